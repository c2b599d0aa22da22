// Public page: live server cards from the /ws WebSocket, grouped by tag, with a summary
// header. Shows the view-password gate when the server answers 访问受限.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { t } from './i18n.js';
import { get, post, isViewRestricted } from './api.js';
import { bytes, speed, pct, fixed, duration } from './format.js';
import { Alert } from './ui.js';

/* global __FLAG_BASE__, __FLAG_CODES__ */
const FLAG_BASE = __FLAG_BASE__;
const FLAGS = new Set(__FLAG_CODES__.split(' '));

// Reconnect delays after a lost connection (ms); the last one repeats.
const BACKOFF = [1000, 2000, 4000, 8000, 15000, 30000];
// Frame size the page accepts (characters); a bigger frame is dropped and logged.
const MAX_FRAME = 16 << 20;

export function sortServers(list) {
  return list.slice().sort((a, b) => (b.DisplayIndex || 0) - (a.DisplayIndex || 0) || (a.ID || 0) - (b.ID || 0));
}

// Groups in order of first appearance in the sorted list; empty tag = the default group.
export function groupByTag(list) {
  const groups = new Map();
  for (const s of list) {
    const k = s.Tag || '';
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(s);
  }
  return [...groups.entries()];
}

export function isOnline(s, now) {
  if (typeof s.Online === 'boolean') return s.Online;
  const la = Date.parse(s.LastActive || '');
  return Number.isFinite(la) && la > 0 && now - la < 10000;
}

function Flag({ code }) {
  const c = String(code || '').toLowerCase();
  if (!FLAGS.has(c)) return html`<span class="flag none" aria-hidden="true"></span>`;
  return html`<img class="flag" src=${FLAG_BASE + c + '.svg'} alt=${c.toUpperCase()} title=${c.toUpperCase()} width="20" height="15" loading="lazy" />`;
}

function Bar({ label, value, text, off }) {
  const v = off ? 0 : Math.round(value);
  const level = v >= 90 ? 'hi' : v >= 70 ? 'mid' : 'lo';
  return html`<div class="bar-row">
    <span class="bar-label">${label}</span>
    <div class="bar" role="meter" aria-label=${label} aria-valuemin="0" aria-valuemax="100" aria-valuenow=${v}>
      <div class=${'fill ' + level} style=${'width:' + v + '%'}></div>
    </div>
    <span class="bar-text">${off ? t('home.off') : text}</span>
  </div>`;
}

function Card({ s, now }) {
  const h = s.Host || {}, st = s.State || {};
  const on = isOnline(s, now);
  const os = [h.Platform, h.PlatformVersion].filter(Boolean).join(' ');
  const virt = [h.Virtualization, h.Arch].filter(Boolean).join(':');
  return html`<article class=${'card' + (on ? '' : ' offline')} data-server-id=${s.ID} data-last-active=${s.LastActive} aria-label=${s.Name}>
    <header class="card-head">
      <${Flag} code=${h.CountryCode} />
      <h3 class="name">${s.Name}</h3>
      <span class=${'badge ' + (on ? 'on' : 'off')}>${on ? t('home.online') : t('home.offline')}</span>
    </header>
    <div class="os">${os || '—'}${virt ? html` <span class="muted">· ${virt}</span>` : ''}</div>
    <${Bar} label=${t('home.cpu')} value=${st.CPU || 0} text=${fixed(st.CPU, 1) + '%'} />
    <${Bar} label=${t('home.mem')} value=${pct(st.MemUsed, h.MemTotal)} text=${bytes(st.MemUsed) + ' / ' + bytes(h.MemTotal)} />
    <${Bar} label=${t('home.swap')} value=${pct(st.SwapUsed, h.SwapTotal)} off=${!h.SwapTotal} text=${bytes(st.SwapUsed) + ' / ' + bytes(h.SwapTotal)} />
    <${Bar} label=${t('home.disk')} value=${pct(st.DiskUsed, h.DiskTotal)} text=${bytes(st.DiskUsed) + ' / ' + bytes(h.DiskTotal)} />
    <dl class="facts">
      <dt>${t('home.net')}</dt><dd class="net">↓ ${speed(st.NetInSpeed)} ↑ ${speed(st.NetOutSpeed)}</dd>
      <dt>${t('home.transfer_short')}</dt><dd>↓ ${bytes(st.NetInTransfer)} ↑ ${bytes(st.NetOutTransfer)}</dd>
      <dt>${t('home.load')}</dt><dd>${fixed(st.Load1)} / ${fixed(st.Load5)} / ${fixed(st.Load15)}</dd>
      <dt>${t('home.uptime')}</dt><dd class="uptime">${duration(st.Uptime)}</dd>
      <dt>${t('home.conns')}</dt><dd>${st.TcpConnCount || 0} / ${st.UdpConnCount || 0}</dd>
      <dt>${t('home.procs')}</dt><dd>${st.ProcessCount || 0}</dd>
      <dt>${t('home.version')}</dt><dd>${h.Version || '—'}</dd>
    </dl>
    ${s.PublicNote ? html`<p class="note">${s.PublicNote}</p>` : ''}
  </article>`;
}

function Summary({ servers, now }) {
  let on = 0, inS = 0, outS = 0, inT = 0, outT = 0;
  for (const s of servers) {
    const st = s.State || {};
    if (isOnline(s, now)) { on++; inS += st.NetInSpeed || 0; outS += st.NetOutSpeed || 0; }
    inT += st.NetInTransfer || 0;
    outT += st.NetOutTransfer || 0;
  }
  return html`<section class="summary" aria-label=${t('home.title')}>
    <div><span class="k">${t('home.servers_online')}</span><span class="v" data-testid="online-count">${on} / ${servers.length}</span></div>
    <div><span class="k">${t('home.speed')}</span><span class="v">↓ ${speed(inS)} ↑ ${speed(outS)}</span></div>
    <div><span class="k">${t('home.transfer')}</span><span class="v">↓ ${bytes(inT)} ↑ ${bytes(outT)}</span></div>
  </section>`;
}

export function ViewPasswordGate({ onPass }) {
  const [pw, setPw] = useState('');
  const [err, setErr] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    setErr('');
    await post('/view-password', { Password: pw });
    const r = await get('/api/public');
    if (isViewRestricted(r)) setErr(t('vp.wrong'));
    else onPass();
  };
  return html`<main class="narrow">
    <form class="panel" onSubmit=${submit}>
      <h1>${t('vp.title')}</h1>
      <p>${t('vp.text')}</p>
      <label>${t('vp.password')}<input type="password" name="Password" autocomplete="current-password" value=${pw} onInput=${(e) => setPw(e.target.value)} required /></label>
      <${Alert} msg=${err} />
      <button class="primary" type="submit">${t('vp.submit')}</button>
    </form>
  </main>`;
}

export function Home({ onPublic }) {
  const [servers, setServers] = useState(null);
  const [now, setNow] = useState(Date.now());
  const [conn, setConn] = useState('connecting');
  const [restricted, setRestricted] = useState(false);
  const [gen, setGen] = useState(0);

  useEffect(() => {
    let ws = null, timer = 0, tries = 0, stopped = false;
    const check = async () => {
      const r = await get('/api/public');
      if (stopped) return false;
      if (isViewRestricted(r)) { setRestricted(true); return false; }
      if (r.result && onPublic) onPublic(r.result);
      return true;
    };
    const connect = () => {
      if (stopped) return;
      const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
      try { ws = new WebSocket(url); } catch (e) { ws = null; schedule(); return; }
      ws.onmessage = (ev) => {
        if (typeof ev.data !== 'string' || ev.data.length > MAX_FRAME) return;
        let f;
        try { f = JSON.parse(ev.data); } catch (e) { return; }
        if (!f || typeof f !== 'object') return;
        tries = 0;
        setConn('open');
        setNow(typeof f.now === 'number' ? f.now : Date.now());
        setServers(Array.isArray(f.servers) ? sortServers(f.servers) : []);
      };
      ws.onclose = () => { ws = null; if (!stopped) { setConn('lost'); schedule(); } };
    };
    const schedule = () => {
      const d = BACKOFF[Math.min(tries, BACKOFF.length - 1)];
      tries++;
      timer = setTimeout(async () => { if (await check()) connect(); }, d);
    };
    check().then((go) => go && connect());
    return () => { stopped = true; clearTimeout(timer); if (ws) { ws.onclose = null; ws.close(); } };
  }, [gen]);

  if (restricted) return html`<${ViewPasswordGate} onPass=${() => { setRestricted(false); setGen(gen + 1); }} />`;
  const list = servers || [];
  return html`<main class="home">
    <${Summary} servers=${list} now=${now} />
    ${conn !== 'open' ? html`<p class="conn" role="status">${servers === null ? t('home.connecting') : conn === 'lost' ? t('home.reconnecting') : ''}</p>` : ''}
    ${servers !== null && list.length === 0 ? html`<p class="empty">${t('home.empty')}</p>` : ''}
    ${groupByTag(list).map(([tag, ss]) => html`<section class="group" key=${tag}>
      <h2>${tag || t('home.default_group')} <span class="muted">${ss.filter((s) => isOnline(s, now)).length}/${ss.length}</span></h2>
      <div class="cards">${ss.map((s) => html`<${Card} key=${s.ID} s=${s} now=${now} />`)}</div>
    </section>`)}
  </main>`;
}
