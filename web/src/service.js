// Public page /service: every monitor with EnableShowInService (GET /api/service): its current
// status, the 30-day uptime with three decimals, 30 daily cells (oldest -> today) coloured by
// availability with the day's availability and average latency, and the TLS certificate expiry.
// The view-password gate is the home page's (a 访问受限 reply shows it).
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { t, tServer } from './i18n.js';
import { get, ok, isViewRestricted } from './api.js';
import { fixed } from './format.js';
import { Alert } from './ui.js';
import { StatusBadge } from './monitors.js';
import { ViewPasswordGate } from './home.js';

// The page asks again this often (ms), so new results show without a reload.
const REFRESH_MS = 30000;

// Availability of a day in %, or null when it holds no result.
export function dayAvail(d) {
  const up = Number(d && d.up) || 0, down = Number(d && d.down) || 0;
  return up + down > 0 ? (up * 100) / (up + down) : null;
}

// The cell colour of an availability: > 95 % good, > 80 % low, else bad; null = no data.
export function availLevel(a) {
  if (a === null || a === undefined || !Number.isFinite(a)) return 'none';
  return a > 95 ? 'good' : a > 80 ? 'low' : 'bad';
}

// 30-day uptime as "99.861%", or "—" when null (no data in the 30 days).
export function uptimeText(u) {
  return typeof u === 'number' && Number.isFinite(u) ? u.toFixed(3) + '%' : '—';
}

// A day's start (unix ms) as the local date YYYY-MM-DD.
export function dayText(ms) {
  const d = new Date(Number(ms) || 0);
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

export function dayTip(d) {
  const a = dayAvail(d);
  const date = d.date || dayText(d.day); // the dashboard's own calendar day (its time zone)
  if (a === null) return t('service.day_nodata', date);
  return t('service.day', date, a.toFixed(2) + '%', fixed(d.avg_delay, 1));
}

function ServiceCard({ m }) {
  const [pick, setPick] = useState(-1);
  const days = Array.isArray(m.days) ? m.days.slice(-30) : [];
  const shown = pick >= 0 && pick < days.length ? days[pick] : days[days.length - 1];
  const ssl = m.ssl && typeof m.ssl === 'object' && m.ssl.expires_at ? m.ssl : null;
  return html`<article class="svc card" data-monitor-id=${m.id} aria-label=${m.name}>
    <header class="card-head">
      <h3 class="name">${m.name}</h3>
      <${StatusBadge} status=${m.status} />
    </header>
    <div class="svc-uptime"><span class="muted">${t('service.uptime_30d')}</span> <strong data-testid="uptime">${uptimeText(m.uptime_30d)}</strong></div>
    <div class="days" role="list" aria-label=${t('service.days_label')} onMouseLeave=${() => setPick(-1)}>
      ${days.map((d, i) => {
        const tip = dayTip(d);
        return html`<span role="listitem" tabindex="0" key=${d.day} class=${'day lvl-' + availLevel(dayAvail(d)) + (i === pick ? ' picked' : '')}
          title=${tip} aria-label=${tip} onMouseEnter=${() => setPick(i)} onFocus=${() => setPick(i)} onClick=${() => setPick(i)}></span>`;
      })}
    </div>
    <div class="days-scale muted"><span>${t('service.days_ago', Math.max(0, days.length - 1))}</span><span>${t('service.today')}</span></div>
    ${shown ? html`<p class="day-detail muted" aria-live="polite">${dayTip(shown)}</p>` : ''}
    ${m.status && m.status !== 'nodata' ? html`<p class="muted current">${t('monitors.current', m.current_up || 0, m.current_down || 0, fixed(m.avg_delay, 1))}</p>` : ''}
    ${ssl ? html`<p class="ssl muted">${t('service.ssl', ssl.issuer || '?', dayText(ssl.expires_at))}</p>` : ''}
  </article>`;
}

export function Service() {
  const [list, setList] = useState(null);
  const [err, setErr] = useState('');
  const [restricted, setRestricted] = useState(false);
  const [gen, setGen] = useState(0);
  useEffect(() => {
    let stopped = false;
    const load = async () => {
      const r = await get('/api/service');
      if (stopped) return;
      if (isViewRestricted(r)) { setRestricted(true); return; }
      if (!ok(r)) { setErr(r.code === -1 ? t('err.network') : tServer(r.message) || t('common.error')); return; }
      setErr('');
      setList(Array.isArray(r.result) ? r.result : []);
    };
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => { stopped = true; clearInterval(timer); };
  }, [gen]);
  if (restricted) return html`<${ViewPasswordGate} onPass=${() => { setRestricted(false); setGen(gen + 1); }} />`;
  return html`<main class="service">
    <h1>${t('service.title')}</h1>
    <${Alert} msg=${err} />
    ${list === null ? (err ? '' : html`<p>${t('common.loading')}</p>`) : list.length === 0 ? html`<p class="empty">${t('service.empty')}</p>`
      : html`<div class="cards svc-cards">${list.map((m) => html`<${ServiceCard} key=${m.id} m=${m} />`)}</div>`}
  </main>`;
}
