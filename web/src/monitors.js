// Admin page /admin/monitors: the service monitors (GET /api/monitor) in a table, and the
// create/edit dialog (POST /api/monitor, ID 0 = create) with v0's fields plus the Lotus extras
// (HTTP expected status range and body keyword, DNS record type and expected address), which
// are shown only for their type. Contract: /work/notes/monitors-contract.md, docs/api-admin.md.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { t, tServer } from './i18n.js';
import { get, post, del, ok, isLoginRequired } from './api.js';
import { fixed } from './format.js';
import { Alert, Confirm, Icon, Modal } from './ui.js';

export const TYPES = [1, 2, 3, 102];
const STATUSES = ['good', 'low', 'down', 'nodata'];
const PLACEHOLDER = { 1: 'https://example.com/', 2: '192.0.2.1', 3: 'example.com:443', 102: 'example.com' };

// The status badge of a monitor: "good" | "low" | "down" | "nodata" (anything else = nodata).
export function StatusBadge({ status }) {
  const s = STATUSES.includes(status) ? status : 'nodata';
  return html`<span class=${'badge st-' + s} data-status=${s}>${t('status.' + s)}</span>`;
}

// SkipServersRaw ("[1,2]") as a Set of ids; anything unreadable is an empty set.
export function parseIds(raw) {
  try {
    const a = JSON.parse(raw || '[]');
    return new Set(Array.isArray(a) ? a.filter((x) => Number.isInteger(x) && x > 0) : []);
  } catch (e) {
    return new Set();
  }
}

// A trigger-task list typed by the admin: "" or a JSON array of positive integers. Returns the
// normalised JSON text, or null when it is not such an array.
export function normTaskList(text) {
  const s = String(text || '').trim();
  if (!s) return '[]';
  let a;
  try { a = JSON.parse(s); } catch (e) { return null; }
  if (!Array.isArray(a) || !a.every((x) => Number.isInteger(x) && x > 0)) return null;
  return JSON.stringify(a);
}

function MonitorForm({ monitor, servers, onDone, onClose, call }) {
  const m = monitor || {};
  const [f, setF] = useState({
    Name: m.Name || '', Type: m.Type || 1, Target: m.Target || '', Duration: m.Duration || 30,
    Cover: m.Cover || 0, Notify: !!m.Notify, NotificationTag: m.NotificationTag || 'default',
    MinLatency: m.MinLatency || 0, MaxLatency: m.MaxLatency || 0, LatencyNotify: !!m.LatencyNotify,
    EnableShowInService: m.ID ? !!m.EnableShowInService : true, EnableTriggerTask: !!m.EnableTriggerTask,
    FailTriggerTasksRaw: m.FailTriggerTasksRaw || '[]', RecoverTriggerTasksRaw: m.RecoverTriggerTasksRaw || '[]',
    ExpectStatus: m.ExpectStatus || '', Keyword: m.Keyword || '', KeywordAbsent: !!m.KeywordAbsent,
    DNSRecordType: m.DNSRecordType || '', DNSExpect: m.DNSExpect || '',
  });
  const [sel, setSel] = useState(parseIds(m.SkipServersRaw));
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const toggle = (id) => { const n = new Set(sel); n.has(id) ? n.delete(id) : n.add(id); setSel(n); };
  const type = Number(f.Type);
  const num = (v) => { const n = Number(v); return Number.isFinite(n) ? n : 0; };

  const submit = async (e) => {
    e.preventDefault();
    if (!f.Name.trim()) { setErr(t('monitors.name_required')); return; }
    if (!f.Target.trim()) { setErr(t('monitors.target_required')); return; }
    const fail = normTaskList(f.FailTriggerTasksRaw), rec = normTaskList(f.RecoverTriggerTasksRaw);
    if (fail === null || rec === null) { setErr(t('monitors.tasks_invalid')); return; }
    const body = {
      ID: m.ID || 0, Name: f.Name.trim(), Type: type, Target: f.Target.trim(),
      Duration: Math.trunc(num(f.Duration)), Cover: Number(f.Cover),
      SkipServersRaw: JSON.stringify([...sel].sort((a, b) => a - b)),
      Notify: !!f.Notify, NotificationTag: f.NotificationTag.trim(),
      MinLatency: num(f.MinLatency), MaxLatency: num(f.MaxLatency), LatencyNotify: !!f.LatencyNotify,
      EnableShowInService: !!f.EnableShowInService, EnableTriggerTask: !!f.EnableTriggerTask,
      FailTriggerTasksRaw: fail, RecoverTriggerTasksRaw: rec,
      // The extras of another type are sent empty, so a type change leaves nothing behind.
      ExpectStatus: type === 1 ? f.ExpectStatus.trim() : '',
      Keyword: type === 1 ? f.Keyword : '',
      KeywordAbsent: type === 1 && !!f.Keyword && !!f.KeywordAbsent,
      DNSRecordType: type === 102 ? f.DNSRecordType : '',
      DNSExpect: type === 102 ? f.DNSExpect.trim() : '',
    };
    setBusy(true);
    const r = await call(post('/api/monitor', body), setErr);
    setBusy(false);
    if (r) onDone();
  };

  return html`<${Modal} title=${m.ID ? t('monitors.edit') : t('monitors.add')} onClose=${onClose} id="monitor-form">
    <form onSubmit=${submit} class="form">
      <label>${t('monitors.name')}<input name="Name" value=${f.Name} onInput=${set('Name')} maxlength="255" required /></label>
      <div class="field"><label for="mf-Type">${t('monitors.type')}</label><select id="mf-Type" name="Type" value=${String(type)} onChange=${set('Type')}>
        ${TYPES.map((x) => html`<option value=${String(x)}>${t('monitors.type.' + x)}</option>`)}
      </select></div>
      <label>${t('monitors.target')}<input name="Target" value=${f.Target} onInput=${set('Target')} placeholder=${PLACEHOLDER[type]} required /></label>
      <label>${t('monitors.duration')}<input name="Duration" type="number" min="1" step="1" value=${f.Duration} onInput=${set('Duration')} /></label>

      ${type === 1 ? html`<fieldset class="extras">
        <legend>${t('monitors.extras')}</legend>
        <p class="muted hint">${t('monitors.lotus_only')}</p>
        <label>${t('monitors.expect_status')}<input name="ExpectStatus" value=${f.ExpectStatus} onInput=${set('ExpectStatus')} placeholder="200-399" /></label>
        <label>${t('monitors.keyword')}<input name="Keyword" value=${f.Keyword} onInput=${set('Keyword')} maxlength="256" /></label>
        <label class="check"><input type="checkbox" name="KeywordAbsent" checked=${f.KeywordAbsent} disabled=${!f.Keyword} onChange=${set('KeywordAbsent')} /> ${t('monitors.keyword_absent')}</label>
      </fieldset>` : ''}
      ${type === 102 ? html`<fieldset class="extras">
        <legend>${t('monitors.extras')}</legend>
        <p class="muted hint">${t('monitors.dns_lotus_only')}</p>
        <div class="field"><label for="mf-DNSRecordType">${t('monitors.dns_type')}</label><select id="mf-DNSRecordType" name="DNSRecordType" value=${f.DNSRecordType} onChange=${set('DNSRecordType')}>
          <option value="">${t('monitors.dns_default')}</option><option value="A">A</option><option value="AAAA">AAAA</option><option value="ANY">ANY</option>
        </select></div>
        <label>${t('monitors.dns_expect')}<input name="DNSExpect" value=${f.DNSExpect} onInput=${set('DNSExpect')} placeholder="192.0.2.1" /></label>
      </fieldset>` : ''}

      <div class="field"><label for="mf-Cover">${t('monitors.cover')}</label><select id="mf-Cover" name="Cover" value=${String(f.Cover)} onChange=${set('Cover')}>
        <option value="0">${t('monitors.cover.0')}</option><option value="1">${t('monitors.cover.1')}</option>
      </select></div>
      <fieldset class="servers-pick">
        <legend>${Number(f.Cover) === 1 ? t('monitors.servers_only') : t('monitors.servers_skip')}</legend>
        ${servers === null ? html`<span class="muted">${t('common.loading')}</span>` : servers.length === 0 ? html`<span class="muted">${t('monitors.no_servers')}</span>`
          : servers.map((s) => html`<label class="check" key=${s.id}><input type="checkbox" checked=${sel.has(s.id)} onChange=${() => toggle(s.id)} /> ${s.name || '#' + s.id}</label>`)}
      </fieldset>
      <label class="check"><input type="checkbox" name="EnableShowInService" checked=${f.EnableShowInService} onChange=${set('EnableShowInService')} /> ${t('monitors.show_in_service')}</label>
      <label class="check"><input type="checkbox" name="Notify" checked=${f.Notify} onChange=${set('Notify')} /> ${t('monitors.notify')}</label>
      <label>${t('monitors.notification_tag')}<input name="NotificationTag" value=${f.NotificationTag} onInput=${set('NotificationTag')} /></label>
      <div class="two">
        <label>${t('monitors.min_latency')}<input name="MinLatency" type="number" min="0" step="any" value=${f.MinLatency} onInput=${set('MinLatency')} /></label>
        <label>${t('monitors.max_latency')}<input name="MaxLatency" type="number" min="0" step="any" value=${f.MaxLatency} onInput=${set('MaxLatency')} /></label>
      </div>
      <label class="check"><input type="checkbox" name="LatencyNotify" checked=${f.LatencyNotify} onChange=${set('LatencyNotify')} /> ${t('monitors.latency_notify')}</label>
      <label class="check"><input type="checkbox" name="EnableTriggerTask" checked=${f.EnableTriggerTask} onChange=${set('EnableTriggerTask')} /> ${t('monitors.trigger')}</label>
      ${f.EnableTriggerTask ? html`
        <label>${t('monitors.fail_tasks')}<input name="FailTriggerTasksRaw" value=${f.FailTriggerTasksRaw} onInput=${set('FailTriggerTasksRaw')} placeholder="[1,2]" /></label>
        <label>${t('monitors.recover_tasks')}<input name="RecoverTriggerTasksRaw" value=${f.RecoverTriggerTasksRaw} onInput=${set('RecoverTriggerTasksRaw')} placeholder="[1,2]" /></label>` : ''}
      <${Alert} msg=${err} />
      <div class="actions">
        <button type="button" onClick=${onClose}>${t('common.cancel')}</button>
        <button type="submit" class="primary" disabled=${busy}>${t('common.save')}</button>
      </div>
    </form>
  <//>`;
}

export function Monitors({ onAuthLost }) {
  const [list, setList] = useState(null);
  const [servers, setServers] = useState(null);
  const [dlg, setDlg] = useState(null); // {kind:'form'|'delete', monitor}
  const [err, setErr] = useState('');
  // Runs an API call; returns the reply, or null after showing its error through show
  // (the page's alert, or the dialog's).
  const call = async (p, show = setErr) => {
    const r = await p;
    if (isLoginRequired(r)) { onAuthLost(); return null; }
    if (!ok(r)) { show(r.code === -1 ? t('err.network') : tServer(r.message) || t('common.error')); return null; }
    show('');
    return r;
  };
  const load = async () => { const r = await call(get('/api/monitor')); if (r) setList(Array.isArray(r.result) ? r.result : []); };
  const loadServers = async () => {
    const r = await call(get('/api/server'));
    setServers(r && Array.isArray(r.result) ? r.result.map((s) => ({ id: s.id, name: s.name })) : []);
  };
  useEffect(() => { load(); }, []);
  const close = () => setDlg(null);
  const open = (monitor) => { setDlg({ kind: 'form', monitor }); loadServers(); };
  const saved = async () => { close(); await load(); };
  const remove = async (m) => { close(); if (await call(del(`/api/monitor/${m.ID}`))) load(); };

  return html`<main class="admin">
    <div class="page-head">
      <h1>${t('monitors.title')}</h1>
      <button type="button" class="primary" onClick=${() => open(null)}>${t('monitors.add')}</button>
    </div>
    <${Alert} msg=${err} />
    ${list === null ? html`<p>${t('common.loading')}</p>` : list.length === 0 ? html`<p class="empty">${t('monitors.empty')}</p>` : html`
    <div class="table-wrap"><table class="table monitors">
      <thead><tr>
        <th>${t('servers.id')}</th><th>${t('monitors.name')}</th><th>${t('monitors.type')}</th><th>${t('monitors.target')}</th>
        <th>${t('monitors.duration')}</th><th>${t('monitors.status')}</th><th>${t('monitors.show_in_service_short')}</th><th>${t('servers.actions')}</th>
      </tr></thead>
      <tbody>${list.map((m) => html`<tr key=${m.ID} data-id=${m.ID}>
        <td>${m.ID}</td><td class="name">${m.Name}</td><td>${t('monitors.type.' + m.Type)}</td>
        <td class="target" title=${m.Target}>${m.Target}</td><td>${m.Duration}</td>
        <td><${StatusBadge} status=${m.Status} />
          ${m.Status && m.Status !== 'nodata' ? html` <span class="muted current">${t('monitors.current', m.CurrentUp || 0, m.CurrentDown || 0, fixed(m.AvgDelay, 1))}</span>` : ''}
          ${m.LastError ? html`<div class="muted last-error" title=${m.LastError}>${t('monitors.last_error', m.LastError)}</div>` : ''}</td>
        <td>${m.EnableShowInService ? t('common.yes') : t('common.no')}</td>
        <td><div class="row-actions">
          <button type="button" class="icon" aria-label=${t('common.edit') + ' ' + m.Name} title=${t('common.edit')} onClick=${() => open(m)}>${Icon.edit}</button>
          <button type="button" class="icon danger" aria-label=${t('common.delete') + ' ' + m.Name} title=${t('common.delete')} onClick=${() => setDlg({ kind: 'delete', monitor: m })}>${Icon.trash}</button>
        </div></td>
      </tr>`)}</tbody>
    </table></div>`}
    ${dlg && dlg.kind === 'form' ? html`<${MonitorForm} monitor=${dlg.monitor} servers=${servers} onClose=${close} onDone=${saved} call=${call} />` : ''}
    ${dlg && dlg.kind === 'delete' ? html`<${Confirm} text=${t('monitors.confirm_delete', dlg.monitor.Name)} onYes=${() => remove(dlg.monitor)} onNo=${close} />` : ''}
  </main>`;
}
