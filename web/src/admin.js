// Admin pages: servers, API tokens, settings, account. Each loads its data from the admin
// JSON API (docs/api-admin.md) and reports a 403 "login required" reply through onAuthLost.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { t, tServer } from './i18n.js';
import { get, post, del, ok, isLoginRequired } from './api.js';
import { dateMs } from './format.js';
import { Alert, Confirm, CopyButton, Icon, Modal } from './ui.js';

// Runs an API call; returns the reply, or null after reporting the error.
function useCaller(onAuthLost) {
  const [err, setErr] = useState('');
  const call = async (p) => {
    const r = await p;
    if (isLoginRequired(r)) { onAuthLost(); return null; }
    if (!ok(r)) { setErr(r.code === -1 ? t('err.network') : tServer(r.message) || t('common.error')); return null; }
    setErr('');
    return r;
  };
  return [err, setErr, call];
}

// ---------------------------------------------------------------- servers

function ServerForm({ server, onDone, onClose, call }) {
  const s = server || {};
  const [f, setF] = useState({
    name: s.name || '', tag: s.tag || '', display_index: s.display_index || 0,
    note: s.note || '', public_note: s.public_note || '', hide_for_guest: !!s.hide_for_guest,
  });
  const [err, setErr] = useState('');
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    if (!f.name.trim()) { setErr(t('servers.name_required')); return; }
    const di = parseInt(f.display_index, 10);
    const r = await call(post('/api/server', {
      ID: s.id || 0, Name: f.name.trim(), Tag: f.tag.trim(), DisplayIndex: Number.isFinite(di) ? di : 0,
      Note: f.note, PublicNote: f.public_note, HideForGuest: f.hide_for_guest ? 'on' : '',
    }));
    if (r) onDone(r.result, !s.id);
  };
  return html`<${Modal} title=${s.id ? t('servers.edit') : t('servers.add')} onClose=${onClose} id="server-form">
    <form onSubmit=${submit} class="form">
      <label>${t('servers.name')}<input name="name" value=${f.name} onInput=${set('name')} maxlength="255" required /></label>
      <label>${t('servers.tag')}<input name="tag" value=${f.tag} onInput=${set('tag')} maxlength="255" /></label>
      <label>${t('servers.display_index')} <span class="muted">(${t('servers.display_index_hint')})</span>
        <input name="display_index" type="number" step="1" value=${f.display_index} onInput=${set('display_index')} /></label>
      <label>${t('servers.note')}<textarea name="note" rows="2" onInput=${set('note')} value=${f.note}></textarea></label>
      <label>${t('servers.public_note')}<textarea name="public_note" rows="2" onInput=${set('public_note')} value=${f.public_note}></textarea></label>
      <label class="check"><input type="checkbox" name="hide_for_guest" checked=${f.hide_for_guest} onChange=${set('hide_for_guest')} /> ${t('servers.hide_for_guest')}</label>
      ${s.id ? html`<div class="field"><span>${t('servers.secret')}</span>
        <div class="inline"><input readonly aria-label=${t('servers.secret')} value=${s.secret} /><${CopyButton} text=${s.secret} label=${t('servers.copy_secret')} /></div></div>` : ''}
      <${Alert} msg=${err} />
      <div class="actions">
        <button type="button" onClick=${onClose}>${t('common.cancel')}</button>
        <button type="submit" class="primary">${t('common.save')}</button>
      </div>
    </form>
  <//>`;
}

function InstallDialog({ server, onClose, call }) {
  const [cmd, setCmd] = useState(null);
  useEffect(() => {
    call(get(`/api/server/${server.id}/install`)).then((r) => setCmd(r && r.result ? String(r.result.linux || '') : ''));
  }, [server.id]);
  return html`<${Modal} title=${t('servers.install_title', server.name)} onClose=${onClose} id="install">
    <p>${t('servers.install_hint')}</p>
    ${cmd === null ? html`<p>${t('common.loading')}</p>` : html`<div class="inline">
      <pre class="cmd"><code data-testid="install-command">${cmd}</code></pre>
      <${CopyButton} text=${cmd} label=${t('common.copy') + ' ' + t('servers.install')} /></div>`}
    <div class="actions"><button type="button" onClick=${onClose}>${t('common.close')}</button></div>
  <//>`;
}

export function Servers({ onAuthLost }) {
  const [list, setList] = useState(null);
  const [sel, setSel] = useState(new Set());
  const [dlg, setDlg] = useState(null); // {kind:'form'|'install'|'delete'|'batch-delete', server}
  const [group, setGroup] = useState('');
  const [err, setErr, call] = useCaller(onAuthLost);
  const load = async () => {
    const r = await call(get('/api/server'));
    if (r) {
      const l = Array.isArray(r.result) ? r.result : [];
      setList(l);
      setSel(new Set([...sel].filter((id) => l.some((s) => s.id === id))));
    }
  };
  useEffect(() => { load(); }, []);
  const toggle = (id) => { const n = new Set(sel); n.has(id) ? n.delete(id) : n.add(id); setSel(n); };
  const all = list && list.length > 0 && sel.size === list.length;
  const close = () => setDlg(null);
  const saved = async (res, created) => {
    await load();
    if (created && res && res.id) {
      const r = await call(get('/api/server'));
      const l = r && Array.isArray(r.result) ? r.result : [];
      setList(l);
      const s = l.find((x) => x.id === res.id) || { id: res.id, name: '' };
      setDlg({ kind: 'install', server: s });
    } else close();
  };
  const remove = async (s) => { close(); if (await call(del(`/api/server/${s.id}`))) load(); };
  const batchDelete = async () => { close(); if (await call(post('/api/batch-delete-server', [...sel]))) { setSel(new Set()); load(); } };
  const batchGroup = async (e) => {
    e.preventDefault();
    if (await call(post('/api/batch-update-server-group', { Servers: [...sel], Group: group.trim() }))) load();
  };

  return html`<main class="admin">
    <div class="page-head">
      <h1>${t('servers.title')}</h1>
      <button type="button" class="primary" onClick=${() => setDlg({ kind: 'form', server: null })}>${t('servers.add')}</button>
    </div>
    <${Alert} msg=${err} />
    <form class="batch" onSubmit=${batchGroup}>
      <span class="muted">${t('servers.selected', sel.size)}</span>
      <input aria-label=${t('servers.batch_group_to')} placeholder=${t('servers.batch_group_to')} value=${group} onInput=${(e) => setGroup(e.target.value)} disabled=${!sel.size} />
      <button type="submit" disabled=${!sel.size}>${t('servers.batch_group')}</button>
      <button type="button" class="danger" disabled=${!sel.size} onClick=${() => setDlg({ kind: 'batch-delete' })}>${t('servers.batch_delete')}</button>
    </form>
    ${list === null ? html`<p>${t('common.loading')}</p>` : list.length === 0 ? html`<p class="empty">${t('servers.empty')}</p>` : html`
    <div class="table-wrap"><table class="table">
      <thead><tr>
        <th><input type="checkbox" aria-label=${t('servers.select_all')} checked=${all} onChange=${() => setSel(all ? new Set() : new Set(list.map((s) => s.id)))} /></th>
        <th>${t('servers.id')}</th><th>${t('servers.name')}</th><th>${t('servers.tag')}</th><th>${t('servers.display_index')}</th>
        <th>${t('servers.ip')}</th><th>${t('servers.version')}</th><th>${t('servers.status')}</th><th>${t('servers.hide_for_guest')}</th>
        <th>${t('servers.note')}</th><th>${t('servers.actions')}</th>
      </tr></thead>
      <tbody>${list.map((s) => html`<tr key=${s.id} data-id=${s.id}>
        <td><input type="checkbox" aria-label=${t('servers.select', s.name)} checked=${sel.has(s.id)} onChange=${() => toggle(s.id)} /></td>
        <td>${s.id}</td><td class="name">${s.name}</td><td>${s.tag}</td><td>${s.display_index}</td>
        <td>${s.ip}</td><td>${s.version}</td>
        <td><span class=${'badge ' + (s.online ? 'on' : 'off')}>${s.online ? t('home.online') : t('home.offline')}</span></td>
        <td>${s.hide_for_guest ? t('common.yes') : t('common.no')}</td>
        <td class="note-cell">${s.note}${s.public_note ? html`<br /><span class="muted">${s.public_note}</span>` : ''}</td>
        <td><div class="row-actions">
          <button type="button" class="icon" aria-label=${t('servers.install')} title=${t('servers.install')} onClick=${() => setDlg({ kind: 'install', server: s })}>${Icon.term}</button>
          <${CopyButton} text=${s.secret} label=${t('servers.copy_secret')} />
          <button type="button" class="icon" aria-label=${t('common.edit')} title=${t('common.edit')} onClick=${() => setDlg({ kind: 'form', server: s })}>${Icon.edit}</button>
          <button type="button" class="icon danger" aria-label=${t('common.delete')} title=${t('common.delete')} onClick=${() => setDlg({ kind: 'delete', server: s })}>${Icon.trash}</button>
        </div></td>
      </tr>`)}</tbody>
    </table></div>`}
    ${dlg && dlg.kind === 'form' ? html`<${ServerForm} server=${dlg.server} onClose=${close} onDone=${saved} call=${call} />` : ''}
    ${dlg && dlg.kind === 'install' ? html`<${InstallDialog} server=${dlg.server} onClose=${close} call=${call} />` : ''}
    ${dlg && dlg.kind === 'delete' ? html`<${Confirm} text=${t('servers.confirm_delete', dlg.server.name)} onYes=${() => remove(dlg.server)} onNo=${close} />` : ''}
    ${dlg && dlg.kind === 'batch-delete' ? html`<${Confirm} text=${t('servers.confirm_batch_delete', sel.size)} onYes=${batchDelete} onNo=${close} />` : ''}
  </main>`;
}

// ---------------------------------------------------------------- API tokens

export function Tokens({ onAuthLost }) {
  const [list, setList] = useState(null);
  const [adding, setAdding] = useState(false);
  const [note, setNote] = useState('');
  const [fresh, setFresh] = useState(null);
  const [delTok, setDelTok] = useState(null);
  const [err, setErr, call] = useCaller(onAuthLost);
  const load = async () => { const r = await call(get('/api/token')); if (r) setList(Array.isArray(r.result) ? r.result : []); };
  useEffect(() => { load(); }, []);
  const add = async (e) => {
    e.preventDefault();
    const r = await call(post('/api/token', { Note: note }));
    if (r && r.result) { setAdding(false); setNote(''); setFresh(r.result); load(); }
  };
  const remove = async () => {
    const tk = delTok;
    setDelTok(null);
    if (await call(del(`/api/token/${tk.id}`))) load();
  };
  return html`<main class="admin">
    <div class="page-head">
      <h1>${t('tokens.title')}</h1>
      <button type="button" class="primary" onClick=${() => setAdding(true)}>${t('tokens.add')}</button>
    </div>
    <p class="muted">${t('tokens.help')}</p>
    <${Alert} msg=${err} />
    ${list === null ? html`<p>${t('common.loading')}</p>` : list.length === 0 ? html`<p class="empty">${t('tokens.empty')}</p>` : html`
    <div class="table-wrap"><table class="table tokens">
      <thead><tr><th>${t('tokens.note')}</th><th>${t('tokens.token')}</th><th>${t('tokens.created')}</th><th>${t('tokens.last_used')}</th><th><span class="sr-only">${t('tokens.delete')}</span></th></tr></thead>
      <tbody>${list.map((k) => html`<tr key=${k.id} data-id=${k.id}>
        <td class="note-cell">${k.note}</td><td><code>${k.token}…</code></td>
        <td>${dateMs(k.created_at)}</td><td>${dateMs(k.last_used_at)}</td>
        <td><div class="row-actions"><button type="button" class="icon danger" aria-label=${t('tokens.delete')} title=${t('tokens.delete')} onClick=${() => setDelTok(k)}>${Icon.trash}</button></div></td>
      </tr>`)}</tbody>
    </table></div>`}
    ${adding ? html`<${Modal} title=${t('tokens.add')} onClose=${() => setAdding(false)} id="token-add">
      <form onSubmit=${add} class="form">
        <label>${t('tokens.note')}<input name="note" value=${note} onInput=${(e) => setNote(e.target.value)} maxlength="255" /></label>
        <div class="actions">
          <button type="button" onClick=${() => setAdding(false)}>${t('common.cancel')}</button>
          <button type="submit" class="primary">${t('tokens.submit')}</button>
        </div>
      </form>
    <//>` : ''}
    ${fresh ? html`<${Modal} title=${t('tokens.new_title')} onClose=${() => setFresh(null)} id="token-new">
      <p>${t('tokens.new_once')}</p>
      <div class="inline"><code class="secret" data-testid="new-token">${fresh.token}</code><${CopyButton} text=${fresh.token} /></div>
      <div class="actions"><button type="button" onClick=${() => setFresh(null)}>${t('common.close')}</button></div>
    <//>` : ''}
    ${delTok ? html`<${Confirm} text=${t('tokens.confirm_delete', delTok.note || delTok.token)} onYes=${remove} onNo=${() => setDelTok(null)} />` : ''}
  </main>`;
}

// ---------------------------------------------------------------- settings

export function Settings({ onAuthLost, onSaved }) {
  const [f, setF] = useState(null);
  const [vp, setVp] = useState('');
  const [clearVp, setClearVp] = useState(false);
  const [msg, setMsg] = useState('');
  const [err, setErr, call] = useCaller(onAuthLost);
  const load = async () => { const r = await call(get('/api/setting')); if (r && r.result) setF(r.result); };
  useEffect(() => { load(); }, []);
  if (!f) return html`<main class="admin"><h1>${t('settings.title')}</h1><${Alert} msg=${err} /><p>${t('common.loading')}</p></main>`;
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setMsg('');
    const port = parseInt(f.grpc_port, 10);
    const r = await call(post('/api/setting', {
      SiteBrand: f.site_brand, Language: f.language, ViewPassword: clearVp ? '-' : vp,
      GRPCHost: f.grpc_host, GRPCPort: Number.isFinite(port) ? port : 0, TLS: !!f.tls, CookieName: f.cookie_name,
    }));
    if (r) { setVp(''); setClearVp(false); setMsg(t('common.saved')); await load(); if (onSaved) onSaved(); }
  };
  return html`<main class="admin">
    <h1>${t('settings.title')}</h1>
    <form class="form panel" onSubmit=${submit}>
      <label>${t('settings.site_brand')}<input name="site_brand" value=${f.site_brand} onInput=${set('site_brand')} /></label>
      <label>${t('settings.language')}<select name="language" value=${f.language} onChange=${set('language')}>
        <option value="zh-CN">简体中文 (zh-CN)</option><option value="en-US">English (en-US)</option>
        ${f.language && f.language !== 'zh-CN' && f.language !== 'en-US' ? html`<option value=${f.language}>${f.language}</option>` : ''}
      </select></label>
      <label>${t('settings.view_password')} <span class="muted">(${t('settings.view_password_hint')})</span>
        <input name="view_password" type="password" autocomplete="new-password" value=${vp} onInput=${(e) => setVp(e.target.value)} disabled=${clearVp} /></label>
      ${f.view_password_set ? html`<p class="muted">${t('settings.view_password_set')}</p>
        <label class="check"><input type="checkbox" checked=${clearVp} onChange=${(e) => setClearVp(e.target.checked)} /> ${t('settings.view_password_clear')}</label>` : ''}
      <label>${t('settings.grpc_host')}<input name="grpc_host" value=${f.grpc_host} onInput=${set('grpc_host')} /></label>
      <label>${t('settings.grpc_port')}<input name="grpc_port" type="number" min="1" max="65535" value=${f.grpc_port} onInput=${set('grpc_port')} /></label>
      <label class="check"><input type="checkbox" name="tls" checked=${!!f.tls} onChange=${set('tls')} /> ${t('settings.tls')}</label>
      <label>${t('settings.cookie_name')}<input name="cookie_name" value=${f.cookie_name} onInput=${set('cookie_name')} /></label>
      <${Alert} msg=${err} /><${Alert} msg=${msg} kind="ok" />
      <div class="actions"><button type="submit" class="primary">${t('common.save')}</button></div>
    </form>
  </main>`;
}

// ---------------------------------------------------------------- account

export function Account({ me, onAuthLost }) {
  const [o, setO] = useState('');
  const [n, setN] = useState('');
  const [n2, setN2] = useState('');
  const [msg, setMsg] = useState('');
  const [err, setErr, call] = useCaller(onAuthLost);
  const submit = async (e) => {
    e.preventDefault();
    setMsg('');
    if (n.length < 8) { setErr(t('account.too_short')); return; }
    if (n !== n2) { setErr(t('account.mismatch')); return; }
    if (await call(post('/api/user/password', { old: o, new: n }))) { setO(''); setN(''); setN2(''); setMsg(t('account.changed')); }
  };
  return html`<main class="admin">
    <h1>${t('account.title')}</h1>
    <p>${t('account.user', me ? me.login : '')}</p>
    <form class="form panel" onSubmit=${submit}>
      <label>${t('account.old')}<input type="password" name="old" autocomplete="current-password" value=${o} onInput=${(e) => setO(e.target.value)} required /></label>
      <label>${t('account.new')}<input type="password" name="new" autocomplete="new-password" value=${n} onInput=${(e) => setN(e.target.value)} required /></label>
      <label>${t('account.repeat')}<input type="password" name="repeat" autocomplete="new-password" value=${n2} onInput=${(e) => setN2(e.target.value)} required /></label>
      <${Alert} msg=${err} /><${Alert} msg=${msg} kind="ok" />
      <div class="actions"><button type="submit" class="primary">${t('account.submit')}</button></div>
    </form>
  </main>`;
}
