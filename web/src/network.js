// Public pages /network and /network/:id: a server picker (GET /api/network: the servers with
// per-server monitor rows of the last 24 h, guests see non-hidden ones) and, for the chosen
// server, a uPlot chart of the latency that server measured (GET /api/v1/monitor/<server id>,
// docs/protocol.md §5.3): one line per monitor, x = created_at, y = avg_delay (ms) with the
// y range capped at max_tcp_ping. "result": null means no rows (a message, no chart).
import { html } from 'htm/preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { t, tServer } from './i18n.js';
import { get, ok, isViewRestricted } from './api.js';
import { Alert, Link, navigate } from './ui.js';
import { ViewPasswordGate } from './home.js';

const REFRESH_MS = 60000;
const PALETTE = ['#2f6fed', '#e8590c', '#1f9d55', '#c2255c', '#7048e8', '#0c8599', '#e8a317', '#5c940d', '#d6336c', '#495057'];

// MonitorInfo rows -> uPlot's aligned data: [xs (unix s, ascending, unique), ys per monitor
// (null where that monitor has no point)], plus the labels. Values above cap are drawn at cap.
export function toSeries(rows, cap) {
  const list = Array.isArray(rows) ? rows : [];
  const xs = new Set();
  for (const r of list) for (const x of Array.isArray(r.created_at) ? r.created_at : []) if (Number.isFinite(x)) xs.add(x);
  const xsSorted = [...xs].sort((a, b) => a - b);
  const at = new Map(xsSorted.map((x, i) => [x, i]));
  const lim = Number.isFinite(cap) && cap > 0 ? cap : Infinity;
  const ys = list.map((r) => {
    const y = new Array(xsSorted.length).fill(null);
    const cs = Array.isArray(r.created_at) ? r.created_at : [], ds = Array.isArray(r.avg_delay) ? r.avg_delay : [];
    for (let i = 0; i < cs.length && i < ds.length; i++) {
      const d = Number(ds[i]);
      if (at.has(cs[i]) && Number.isFinite(d)) y[at.get(cs[i])] = Math.min(Math.max(d, 0), lim);
    }
    return y;
  });
  return { data: [xsSorted.map((x) => x / 1000), ...ys], labels: list.map((r) => String(r.monitor_name || '#' + r.monitor_id)) };
}

// The x range (unix s): uPlot's, except that a single point (or all in one minute) gets an
// hour around it (uPlot would stretch one point over 86400/1e-3 s, i.e. years).
export function xRange(u, min, max) {
  const xs = (u && u.data && u.data[0]) || [];
  if (!xs.length) { const now = Date.now() / 1000; return [now - 86400, now]; }
  const lo = xs[0], hi = xs[xs.length - 1];
  return hi - lo < 60 ? [lo - 1800, hi + 1800] : [min, max];
}

function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

function Chart({ rows, cap, theme, title }) {
  const box = useRef(null);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const { data, labels } = toSeries(rows, cap);
    const fg = css('--muted') || '#667085', grid = css('--line') || '#e3e7ed';
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const width = () => Math.max(240, Math.floor(el.clientWidth));
    const height = () => (window.innerWidth <= 640 ? 240 : 320);
    const opts = {
      width: width(), height: height(),
      scales: { x: { time: true, range: xRange }, y: { range: (u, min, max) => [0, Math.max(1, Number.isFinite(cap) && cap > 0 ? Math.min(max * 1.1, cap) : max * 1.1)] } },
      axes: [axis, { ...axis, label: t('network.latency_ms'), size: 56 }],
      series: [{ label: t('network.time') },
        ...labels.map((l, i) => ({ label: l, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true,
          value: (u, v) => (v === null || v === undefined ? '—' : v.toFixed(1) + ' ms') }))],
      legend: { live: true },
      // The drawn x span (s), for the tests: a chart of the last 24 h never spans more than that.
      hooks: { draw: [(u) => { el.dataset.xSpan = String(Math.round(u.scales.x.max - u.scales.x.min)); }] },
    };
    const u = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => u.setSize({ width: width(), height: height() }));
    ro.observe(el);
    return () => { ro.disconnect(); u.destroy(); };
  }, [rows, cap, theme]);
  return html`<div class="chart" ref=${box} role="img" aria-label=${title} data-testid="chart"></div>`;
}

export function Network({ id, theme }) {
  const [net, setNet] = useState(null); // {servers, max_tcp_ping}
  const [rows, setRows] = useState(undefined); // undefined = loading, null = no data
  const [err, setErr] = useState('');
  const [restricted, setRestricted] = useState(false);
  const [gen, setGen] = useState(0);
  const fail = (r) => setErr(r.code === -1 ? t('err.network') : tServer(r.message) || t('common.error'));

  useEffect(() => {
    let stopped = false;
    (async () => {
      const r = await get('/api/network');
      if (stopped) return;
      if (isViewRestricted(r)) { setRestricted(true); return; }
      if (!ok(r) || !r.result) { fail(r); return; }
      const servers = Array.isArray(r.result.servers) ? r.result.servers : [];
      setNet({ servers, max_tcp_ping: Number(r.result.max_tcp_ping) || 0 });
      if (!id && servers.length) navigate('/network/' + servers[0].id, true);
    })();
    return () => { stopped = true; };
  }, [gen, id === null]);

  useEffect(() => {
    if (!id) return undefined;
    let stopped = false;
    setRows(undefined);
    const load = async () => {
      const r = await get('/api/v1/monitor/' + id);
      if (stopped) return;
      if (isViewRestricted(r)) { setRestricted(true); return; }
      if (!ok(r)) { setRows(null); fail(r); return; }
      setErr('');
      setRows(Array.isArray(r.result) && r.result.length ? r.result : null);
    };
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => { stopped = true; clearInterval(timer); };
  }, [id, gen]);

  if (restricted) return html`<${ViewPasswordGate} onPass=${() => { setRestricted(false); setGen(gen + 1); }} />`;
  const servers = net ? net.servers : [];
  const cur = servers.find((s) => String(s.id) === String(id));
  const name = cur ? cur.name : rows && rows[0] ? rows[0].server_name : id ? '#' + id : '';
  return html`<main class="network">
    <h1>${t('network.title')}</h1>
    ${net && servers.length ? html`<nav class="picker" aria-label=${t('network.pick')}>
      ${servers.map((s) => html`<${Link} key=${s.id} href=${'/network/' + s.id} class="chip" aria-current=${String(s.id) === String(id) ? 'page' : undefined}>${s.name || '#' + s.id}<//>`)}
    </nav>` : ''}
    <${Alert} msg=${err} />
    ${net === null && !err ? html`<p>${t('common.loading')}</p>` : ''}
    ${net && !servers.length && !id ? html`<p class="empty">${t('network.empty')}</p>` : ''}
    ${id ? html`<section class="panel chart-panel">
      <h2>${t('network.chart', name)}</h2>
      ${rows === undefined ? html`<p>${t('common.loading')}</p>` : rows === null ? html`<p class="empty" data-testid="no-data">${t('network.nodata')}</p>`
        : html`<${Chart} rows=${rows} cap=${net ? net.max_tcp_ping : 0} theme=${theme} title=${t('network.chart', name)} />`}
    </section>` : ''}
  </main>`;
}
