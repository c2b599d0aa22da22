// Development mock of the dashboard's HTTP side (docs/api-admin.md) with fake data, for
// working on the web UI without the C backend and for the fast UI-only browser test.
// Never used by the real browser test (ui.test.mjs), which runs the real binaries.
//
//   node tests/browser/mock-server.mjs [PORT] [WEBDIR]     (defaults: 8008, build/web)
//   login: admin / admin1234
// Test hooks (mock only): POST /__mock/agent {"secret":".."} makes that server report.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.txt': 'text/plain; charset=utf-8', '.sh': 'text/plain; charset=utf-8' };
const SPA = new Set(['/', '/login', '/admin/servers', '/admin/tokens', '/admin/settings', '/admin/account']);
const MAX_BODY = 64 << 10;
const rand = (n) => crypto.randomBytes(n).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, n).padEnd(n, 'x');

export function createMock({ webDir, password = 'admin1234', fakeServers = true } = {}) {
  const st = {
    user: { id: 1, login: 'admin', password },
    sessions: new Map(), // session token -> csrf
    tokens: [], nextToken: 1,
    servers: [], nextServer: 1,
    setting: { site_brand: 'Lotus', language: 'zh-CN', view_password: '', grpc_host: 'dash.example.com', grpc_port: 5555, tls: false, cookie_name: 'nezha-dashboard' },
    vpCookie: rand(24),
  };
  const t0 = Date.now();
  function addServer(o) {
    const s = { id: st.nextServer++, name: o.name, tag: o.tag || '', display_index: o.display_index || 0, note: o.note || '', public_note: o.public_note || '', hide_for_guest: !!o.hide_for_guest, secret: rand(18), ip: '', version: '', created: new Date().toISOString(), reporting: !!o.reporting, host: o.host || null, seed: Math.random() * 100 };
    st.servers.push(s);
    return s;
  }
  if (fakeServers) {
    const host = (cc, p, pv, v, a) => ({ Platform: p, PlatformVersion: pv, CPU: ['AMD EPYC 7B13 2 Virtual Core'], MemTotal: 2078420992, DiskTotal: 21003583488, SwapTotal: cc === 'jp' ? 0 : 1073741824, Arch: a, Virtualization: v, BootTime: Math.floor(t0 / 1000) - 86400 * 12, CountryCode: cc, Version: '0.20.5', GPU: null });
    addServer({ name: 'fra-1', tag: 'Europe', display_index: 10, public_note: 'Frankfurt, 2 vCPU', reporting: true, host: host('de', 'debian', '12.5', 'kvm', 'x86_64') });
    addServer({ name: 'ams-db', tag: 'Europe', reporting: true, host: host('nl', 'ubuntu', '22.04', 'kvm', 'x86_64') });
    addServer({ name: 'tokyo', tag: 'Asia', reporting: true, host: host('jp', 'alpine', '3.19', '', 'aarch64') });
    addServer({ name: 'hk-edge', tag: 'Asia', reporting: false, host: host('hk', 'centos', '7.9.2009', 'openvz', 'x86_64') });
    addServer({ name: 'backup', tag: '', note: 'private box', hide_for_guest: true, reporting: true, host: host('us', 'debian', '11', 'lxc', 'x86_64') });
  }
  const sorted = () => st.servers.slice().sort((a, b) => b.display_index - a.display_index || a.id - b.id);
  const emptyHost = { Platform: '', PlatformVersion: '', CPU: null, MemTotal: 0, DiskTotal: 0, SwapTotal: 0, Arch: '', Virtualization: '', BootTime: 0, CountryCode: '', Version: '', GPU: null };
  function state(s) {
    if (!s.reporting) return { CPU: 0, MemUsed: 0, SwapUsed: 0, DiskUsed: 0, NetInTransfer: 0, NetOutTransfer: 0, NetInSpeed: 0, NetOutSpeed: 0, Uptime: 0, Load1: 0, Load5: 0, Load15: 0, TcpConnCount: 0, UdpConnCount: 0, ProcessCount: 0, Temperatures: null, GPU: 0 };
    const k = (Date.now() - t0) / 1000, w = Math.sin(k / 7 + s.seed) * 0.5 + 0.5;
    const h = s.host || emptyHost;
    return { CPU: Math.round((5 + 60 * w) * 10) / 10, MemUsed: Math.floor(h.MemTotal * (0.3 + 0.4 * w)), SwapUsed: Math.floor(h.SwapTotal * 0.1), DiskUsed: Math.floor(h.DiskTotal * 0.42), NetInTransfer: Math.floor(5e9 + k * 2e5), NetOutTransfer: Math.floor(2e9 + k * 9e4), NetInSpeed: Math.floor(2e5 * w), NetOutSpeed: Math.floor(9e4 * (1 - w)), Uptime: Math.floor(86400 * 12 + k), Load1: 0.5 + w, Load5: 0.4 + w / 2, Load15: 0.3, TcpConnCount: 40 + Math.floor(10 * w), UdpConnCount: 7, ProcessCount: 120 + Math.floor(5 * w), Temperatures: null, GPU: 0 };
  }
  const lastActive = (s) => (s.reporting ? new Date(Date.now() - 500).toISOString() : '0001-01-01T00:00:00Z');
  function frame(authorized) {
    const servers = sorted().filter((s) => authorized || !s.hide_for_guest).map((s) => ({
      ID: s.id, CreatedAt: s.created, UpdatedAt: s.created, DeletedAt: null, Name: s.name, Tag: s.tag, DisplayIndex: s.display_index,
      HideForGuest: s.hide_for_guest, EnableDDNS: false, Host: s.reporting && s.host ? s.host : emptyHost, State: state(s), LastActive: lastActive(s),
      PublicNote: s.public_note, Online: s.reporting,
    }));
    const f = { now: Date.now() };
    if (servers.length) f.servers = servers;
    return JSON.stringify(f);
  }

  const cookies = (req) => Object.fromEntries((req.headers.cookie || '').split(/;\s*/).filter(Boolean).map((c) => { const i = c.indexOf('='); return [c.slice(0, i), c.slice(i + 1)]; }));
  const cname = () => st.setting.cookie_name;
  const session = (req) => { const tk = cookies(req)[cname()]; return tk && st.sessions.has(tk) ? tk : null; };
  const vpOk = (req) => !st.setting.view_password || !!session(req) || cookies(req)[cname() + '-vp'] === st.vpCookie;
  const send = (res, obj, status = 200, headers = {}) => { res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }); res.end(JSON.stringify(obj)); };
  const bad = (res, detail) => send(res, { code: 400, message: '请求错误：' + detail });

  function staticFile(res, rel, immutable) {
    const p = path.join(webDir, rel);
    if (!p.startsWith(webDir + path.sep) || !fs.existsSync(p) || !fs.statSync(p).isFile()) { res.writeHead(404, { 'Content-Type': 'text/html' }); res.end('<h1>404</h1>'); return; }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(p)] || 'application/octet-stream', 'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache' });
    res.end(fs.readFileSync(p));
  }

  async function readJson(req) {
    let n = 0; const parts = [];
    for await (const c of req) { n += c.length; if (n > MAX_BODY) return { error: 'too large' }; parts.push(c); }
    const txt = Buffer.concat(parts).toString('utf8');
    if (!txt) return { value: {} };
    try { return { value: JSON.parse(txt) }; } catch (e) { return { error: 'invalid JSON' }; }
  }
  const field = (o, k) => { if (!o || typeof o !== 'object') return undefined; const lk = k.toLowerCase(); for (const key of Object.keys(o)) if (key.toLowerCase() === lk) return o[key]; return undefined; };

  async function handle(req, res) {
    const u = new URL(req.url, 'http://x');
    const p = u.pathname, m = req.method;
    if (p.startsWith('/static/')) return staticFile(res, p.slice(1), /[.-][0-9a-f]{10}[./]/.test(p));
    if (SPA.has(p) && m === 'GET') return staticFile(res, 'index.html', false);
    const sess = session(req);
    if (m !== 'GET' && sess && req.headers['x-csrf-token'] !== st.sessions.get(sess) && p !== '/view-password' && !p.startsWith('/__mock/'))
      return send(res, { code: 403, message: 'CSRF check failed' }, 403);
    const body = m === 'GET' || m === 'DELETE' ? { value: {} } : await readJson(req);
    if (body.error) return bad(res, body.error);
    const b = body.value;
    let mm;
    if (p === '/api/public' && m === 'GET') {
      if (!vpOk(req)) return send(res, { code: 403, message: '访问受限' });
      return send(res, { code: 0, message: '', result: { site_brand: st.setting.site_brand, language: st.setting.language, logged_in: !!sess, view_password_required: !!st.setting.view_password } });
    }
    if (p === '/view-password' && m === 'POST') {
      if (String(field(b, 'Password') || '') !== st.setting.view_password) return send(res, { code: 400, message: '密码错误' });
      return send(res, { code: 200, message: 'success' }, 200, { 'Set-Cookie': `${cname()}-vp=${st.vpCookie}; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax` });
    }
    if (p === '/api/login' && m === 'POST') {
      if (field(b, 'username') !== st.user.login || field(b, 'password') !== st.user.password) return send(res, { code: 400, message: '用户名或密码错误' });
      const tk = rand(32), csrf = rand(32);
      st.sessions.set(tk, csrf);
      return send(res, { code: 0, message: 'success', result: { id: 1, login: 'admin', csrf } }, 200, { 'Set-Cookie': `${cname()}=${tk}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax` });
    }
    if (p === '/__mock/agent' && m === 'POST') {
      const s = st.servers.find((x) => x.secret === field(b, 'secret'));
      if (!s) return bad(res, 'unknown secret');
      s.reporting = true; s.ip = '203.0.113.7'; s.version = '0.20.5';
      s.host = { ...emptyHost, Platform: 'debian', PlatformVersion: '12', CPU: ['Mock CPU 1 Virtual Core'], MemTotal: 1 << 30, DiskTotal: 1e10, Arch: 'x86_64', BootTime: Math.floor(Date.now() / 1000) - 100, CountryCode: 'de', Version: '0.20.5' };
      return send(res, { code: 200, message: 'success' });
    }
    if (p.startsWith('/api/v1/server/')) {
      const auth = req.headers.authorization || '';
      const tok = st.tokens.find((x) => x.token === auth);
      if (tok) tok.last_used_at = Date.now();
      if (!tok && !sess) return send(res, { code: 403, message: '访问此接口需要认证' });
      if (p === '/api/v1/server/details' || p === '/api/v1/server/list') {
        const result = sorted().map((s) => ({ id: s.id, name: s.name, tag: s.tag, last_active: s.reporting ? Math.floor(Date.now() / 1000) : -62135596800, ipv4: s.ip, ipv6: '', valid_ip: s.ip, ...(p.endsWith('details') ? { host: s.reporting && s.host ? s.host : emptyHost, status: state(s) } : {}) }));
        return send(res, { code: 0, message: 'success', result });
      }
    }
    if (p === '/ws') { res.writeHead(400); return res.end('websocket only'); }
    if (!p.startsWith('/api/')) { res.writeHead(404, { 'Content-Type': 'text/html' }); return res.end('<h1>404</h1>'); }
    if (!sess) return send(res, { code: 403, message: '访问此接口需要登录' });

    if (p === '/api/me' && m === 'GET') return send(res, { code: 0, message: '', result: { id: 1, login: 'admin', csrf: st.sessions.get(sess) } });
    if (p === '/api/logout' && m === 'POST') { st.sessions.delete(sess); return send(res, { code: 200, message: 'success', result: null }, 200, { 'Set-Cookie': `${cname()}=; Path=/; Max-Age=0` }); }
    if (p === '/api/user/password' && m === 'POST') {
      if (field(b, 'old') !== st.user.password) return bad(res, '旧密码错误');
      const n = String(field(b, 'new') || '');
      if (n.length < 8) return bad(res, '新密码至少 8 个字符');
      st.user.password = n;
      return send(res, { code: 200, message: 'success', result: null });
    }
    if (p === '/api/token' && m === 'GET') return send(res, { code: 0, message: 'success', result: st.tokens.map((x) => ({ id: x.id, token: x.token.slice(0, 4), note: x.note, created_at: x.created_at, last_used_at: x.last_used_at })) });
    if (p === '/api/token' && m === 'POST') {
      const x = { id: st.nextToken++, token: rand(32), note: String(field(b, 'note') || ''), created_at: Date.now(), last_used_at: 0 };
      st.tokens.push(x);
      return send(res, { code: 200, message: 'success', result: { id: x.id, note: x.note, token: x.token } });
    }
    if ((mm = p.match(/^\/api\/token\/(\d+)$/)) && m === 'DELETE') {
      const i = st.tokens.findIndex((x) => x.id === +mm[1]);
      if (i < 0) return send(res, { code: 400, message: 'token 不存在' });
      st.tokens.splice(i, 1);
      return send(res, { code: 200, message: 'success' });
    }
    if (p === '/api/server' && m === 'GET') return send(res, { code: 0, message: 'success', result: sorted().map((s) => ({ id: s.id, name: s.name, tag: s.tag, display_index: s.display_index, note: s.note, public_note: s.public_note, hide_for_guest: s.hide_for_guest, secret: s.secret, ip: s.ip || (s.reporting ? '198.51.100.' + s.id : ''), version: s.reporting ? '0.20.5' : '', last_active: s.reporting ? Math.floor(Date.now() / 1000) : 0, online: s.reporting })) });
    if (p === '/api/server' && m === 'POST') {
      const name = String(field(b, 'Name') || '').trim();
      if (!name) return bad(res, 'Name 不能为空');
      const o = { name, tag: String(field(b, 'Tag') || ''), display_index: Number(field(b, 'DisplayIndex')) || 0, note: String(field(b, 'Note') || ''), public_note: String(field(b, 'PublicNote') || ''), hide_for_guest: field(b, 'HideForGuest') === 'on' };
      const id = Number(field(b, 'ID')) || 0;
      if (!id) { const s = addServer(o); return send(res, { code: 200, message: 'success', result: { id: s.id, secret: s.secret } }); }
      const s = st.servers.find((x) => x.id === id);
      if (!s) return bad(res, 'server 不存在');
      Object.assign(s, o);
      return send(res, { code: 200, message: 'success', result: null });
    }
    if ((mm = p.match(/^\/api\/server\/(\d+)\/install$/)) && m === 'GET') {
      const s = st.servers.find((x) => x.id === +mm[1]);
      if (!s) return bad(res, 'server 不存在');
      const host = st.setting.grpc_host || req.headers.host.split(':')[0];
      return send(res, { code: 0, message: 'success', result: { linux: `curl -fsSL http://${req.headers.host}/static/install-agent.sh | sudo sh -s -- -s ${host}:${st.setting.grpc_port} -p ${s.secret}${st.setting.tls ? ' --tls' : ''}` } });
    }
    if ((mm = p.match(/^\/api\/server\/(\d+)$/)) && m === 'DELETE') {
      const i = st.servers.findIndex((x) => x.id === +mm[1]);
      if (i < 0) return bad(res, 'server 不存在');
      st.servers.splice(i, 1);
      return send(res, { code: 200, message: 'success' });
    }
    if (p === '/api/batch-delete-server' && m === 'POST') {
      if (!Array.isArray(b)) return bad(res, 'want an array');
      st.servers = st.servers.filter((s) => !b.includes(s.id));
      return send(res, { code: 200, message: 'success' });
    }
    if (p === '/api/batch-update-server-group' && m === 'POST') {
      const ids = field(b, 'Servers'), g = String(field(b, 'Group') || '');
      if (!Array.isArray(ids)) return bad(res, 'Servers');
      st.servers.forEach((s) => { if (ids.includes(s.id)) s.tag = g; });
      return send(res, { code: 200, message: 'success' });
    }
    if (p === '/api/setting' && m === 'GET') {
      const s = st.setting;
      return send(res, { code: 0, message: 'success', result: { site_brand: s.site_brand, language: s.language, view_password_set: !!s.view_password, grpc_host: s.grpc_host, grpc_port: s.grpc_port, tls: s.tls, cookie_name: s.cookie_name, install_command_base: '' } });
    }
    if (p === '/api/setting' && m === 'POST') {
      const s = st.setting, vp = String(field(b, 'ViewPassword') ?? '');
      s.site_brand = String(field(b, 'SiteBrand') ?? s.site_brand);
      s.language = String(field(b, 'Language') ?? s.language);
      if (vp === '-') s.view_password = ''; else if (vp) s.view_password = vp;
      s.grpc_host = String(field(b, 'GRPCHost') ?? s.grpc_host);
      s.grpc_port = Number(field(b, 'GRPCPort')) || s.grpc_port;
      s.tls = !!field(b, 'TLS');
      return send(res, { code: 200, message: 'success' });
    }
    res.writeHead(404, { 'Content-Type': 'text/html' });
    res.end('<h1>404</h1>');
  }

  // Minimal server-side WebSocket: handshake, unmasked text frames out, client frames ignored.
  const sockets = new Set();
  function upgrade(req, sock) {
    const key = req.headers['sec-websocket-key'];
    if (new URL(req.url, 'http://x').pathname !== '/ws' || !key) { sock.destroy(); return; }
    if (!vpOk(req)) { sock.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'); return; }
    const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const authorized = !!session(req) || (!!st.setting.view_password && vpOk(req));
    const push = () => {
      const data = Buffer.from(frame(authorized));
      let head;
      if (data.length < 126) head = Buffer.from([0x81, data.length]);
      else if (data.length < 65536) { head = Buffer.alloc(4); head[0] = 0x81; head[1] = 126; head.writeUInt16BE(data.length, 2); }
      else { head = Buffer.alloc(10); head[0] = 0x81; head[1] = 127; head.writeBigUInt64BE(BigInt(data.length), 2); }
      sock.write(Buffer.concat([head, data]));
    };
    push();
    const timer = setInterval(push, 1000);
    sockets.add(sock);
    const stop = () => { clearInterval(timer); sockets.delete(sock); };
    sock.on('data', (d) => { if (d.length && (d[0] & 0x0f) === 0x8) { sock.end(); } });
    sock.on('close', stop);
    sock.on('error', stop);
  }

  const server = http.createServer((req, res) => { handle(req, res).catch((e) => { res.writeHead(500); res.end(String(e)); }); });
  server.on('upgrade', upgrade);
  return {
    state: st,
    listen: (port = 0, host = '127.0.0.1') => new Promise((r) => server.listen(port, host, () => r(server.address().port))),
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const port = Number(process.argv[2] || 8008);
  const webDir = path.resolve(process.argv[3] || path.join(root, 'build/web'));
  const mock = createMock({ webDir });
  mock.listen(port).then((p) => console.log(`mock dashboard on http://127.0.0.1:${p}/ (admin / admin1234), assets from ${webDir}`));
}
