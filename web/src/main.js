// Entry point: language and theme, the top bar with the user menu, and the client-side router
// (real paths: /, /service, /network, /network/:id, /login, /admin/servers, /admin/monitors,
// /admin/tokens, /admin/settings, /admin/account).
import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { t, setLang, getLang, pickLang, LANGS, LANG_KEY } from './i18n.js';
import { get, post, ok, setCsrf } from './api.js';
import { Link, navigate, onNavigate, Icon } from './ui.js';
import { Home } from './home.js';
import { Login } from './login.js';
import { Servers, Tokens, Settings, Account } from './admin.js';
import { Monitors } from './monitors.js';
import { Service } from './service.js';
import { Network } from './network.js';

const THEME_KEY = 'lotus-theme';

function store(k, v) { try { localStorage.setItem(k, v); } catch (e) { /* private mode */ } }
function load(k) { try { return localStorage.getItem(k); } catch (e) { return null; } }

function effectiveTheme() {
  const s = load(THEME_KEY);
  if (s === 'dark' || s === 'light') return s;
  return window.matchMedia && matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}
function applyTheme(th) { document.documentElement.dataset.theme = th; }

function UserMenu({ me, onLogout }) {
  const [open, setOpen] = useState(false);
  const ref = useRef(null);
  // A layout effect: the Escape / outside-click handlers and the focus move happen in the same
  // commit that shows the menu, before it is painted (useEffect ran after paint, so an Escape
  // pressed right after the menu appeared could be lost). The menu element also handles Escape
  // itself (focus is inside it), and says data-ready once the document handlers are attached.
  useLayoutEffect(() => {
    if (!open) return undefined;
    const out = (e) => { if (ref.current && !ref.current.contains(e.target)) setOpen(false); };
    const key = (e) => { if (e.key === 'Escape') escape(); };
    document.addEventListener('click', out);
    document.addEventListener('keydown', key);
    const first = ref.current && ref.current.querySelector('[role=menuitem]');
    if (first) first.focus();
    const menu = ref.current && ref.current.querySelector('[role=menu]');
    if (menu) menu.dataset.ready = 'true';
    return () => { document.removeEventListener('click', out); document.removeEventListener('keydown', key); };
  }, [open]);
  const initial = (me.login || '?').slice(0, 1).toUpperCase();
  const close = () => setOpen(false);
  // Escape closes the menu and gives the focus back to the avatar button.
  function escape() {
    setOpen(false);
    const btn = ref.current && ref.current.querySelector('.avatar');
    if (btn) btn.focus();
  }
  return html`<div class="usermenu" ref=${ref}>
    <button type="button" class="avatar" aria-label=${t('menu.user')} aria-haspopup="menu" aria-expanded=${open ? 'true' : 'false'} onClick=${() => setOpen(!open)}>${initial}</button>
    ${open ? html`<div class="menu" role="menu" aria-label=${t('menu.user')} onKeyDown=${(e) => { if (e.key === 'Escape') { e.stopPropagation(); escape(); } }}>
      <div class="menu-user muted">${me.login}</div>
      <${Link} href="/admin/monitors" role="menuitem" onNav=${close}>${t('menu.monitors')}<//>
      <${Link} href="/admin/tokens" role="menuitem" onNav=${close}>${t('menu.token')}<//>
      <${Link} href="/admin/settings" role="menuitem" onNav=${close}>${t('menu.settings')}<//>
      <${Link} href="/admin/account" role="menuitem" onNav=${close}>${t('menu.account')}<//>
      <button type="button" role="menuitem" onClick=${() => { close(); onLogout(); }}>${t('menu.logout')}</button>
    </div>` : ''}
  </div>`;
}

function TopBar({ brand, me, path, theme, onTheme, onLang, onLogout }) {
  const cur = (p) => (path === p || path.startsWith(p + '/') ? 'page' : undefined);
  return html`<header class="topbar">
    <${Link} href="/" class="brand">${brand}<//>
    <nav aria-label=${t('nav.admin')}>
      <${Link} href="/" aria-current=${path === '/' ? 'page' : undefined}>${t('nav.home')}<//>
      <${Link} href="/service" aria-current=${cur('/service')}>${t('nav.service')}<//>
      <${Link} href="/network" aria-current=${cur('/network')}>${t('nav.network')}<//>
      ${me ? html`<${Link} href="/admin/servers" aria-current=${cur('/admin/servers')}>${t('nav.servers')}<//>` : ''}
    </nav>
    <div class="tools">
      <select class="lang" aria-label=${t('lang.switch')} value=${getLang()} onChange=${(e) => onLang(e.target.value)}>
        ${Object.keys(LANGS).map((l) => html`<option value=${l}>${LANGS[l]['lang.name']}</option>`)}
      </select>
      <button type="button" class="icon" aria-label=${t('theme.toggle')} aria-pressed=${theme === 'dark' ? 'true' : 'false'} title=${theme === 'dark' ? t('theme.light') : t('theme.dark')} onClick=${onTheme}>
        ${theme === 'dark' ? Icon.sun : Icon.moon}</button>
      ${me ? html`<${UserMenu} me=${me} onLogout=${onLogout} />` : path !== '/login' ? html`<${Link} href="/login" class="login-link">${t('nav.login')}<//>` : ''}
    </div>
  </header>`;
}

const ADMIN = { '/admin/servers': Servers, '/admin/monitors': Monitors, '/admin/tokens': Tokens, '/admin/settings': Settings, '/admin/account': Account };

function App() {
  const [path, setPath] = useState(location.pathname);
  const [lang, setLangState] = useState(getLang());
  const [theme, setTheme] = useState(effectiveTheme());
  const [me, setMe] = useState(undefined); // undefined = not known yet, null = guest
  const [pub, setPub] = useState(null);

  useEffect(() => onNavigate(setPath), []);
  const refreshMe = async () => {
    const r = await get('/api/me');
    if (ok(r) && r.result) { setCsrf(r.result.csrf); setMe(r.result); } else { setCsrf(''); setMe(null); }
  };
  const refreshPublic = async () => { const r = await get('/api/public'); if (ok(r) && r.result) setPub(r.result); };
  useEffect(() => { refreshMe(); refreshPublic(); }, []);
  useEffect(() => { document.title = (pub && pub.site_brand) || 'Lotus'; }, [pub]);
  useEffect(() => {
    // Without a stored or browser preference, follow the site's configured language.
    if (pub && pub.language && !load(LANG_KEY) && !(navigator.languages || []).some((l) => /^(zh|en)/i.test(l))) {
      const l = /^zh/i.test(pub.language) ? 'zh-CN' : 'en';
      setLang(l); setLangState(l);
    }
  }, [pub]);

  const isAdmin = path.startsWith('/admin');
  useEffect(() => {
    if (isAdmin && me === null) navigate('/login', true);
    if (path === '/login' && me) navigate('/admin/servers', true);
  }, [path, me]);

  const changeLang = (l) => { setLang(l); store(LANG_KEY, getLang()); setLangState(getLang()); };
  const toggleTheme = () => { const n = theme === 'dark' ? 'light' : 'dark'; store(THEME_KEY, n); applyTheme(n); setTheme(n); };
  const logout = async () => { await post('/api/logout', {}); setCsrf(''); setMe(null); navigate('/'); };
  const authLost = () => { setCsrf(''); setMe(null); navigate('/login', true); };

  let page;
  if (path === '/') page = html`<${Home} onPublic=${setPub} />`;
  else if (path === '/service') page = html`<${Service} />`;
  else if (path === '/network' || /^\/network\/[^/]+$/.test(path)) {
    const id = path === '/network' ? null : path.slice('/network/'.length); // still percent-encoded
    page = html`<${Network} key="network" id=${id} theme=${theme} />`;
  } else if (path === '/login') page = html`<${Login} onLogin=${(m) => setMe(m)} />`;
  else if (ADMIN[path]) {
    const P = ADMIN[path];
    page = me ? html`<${P} me=${me} onAuthLost=${authLost} onSaved=${refreshPublic} />` : html`<main class="admin"><p>${t('common.loading')}</p></main>`;
  } else if (path === '/admin' || path === '/admin/') {
    if (me) navigate('/admin/servers', true);
    page = html`<main class="admin"><p>${t('common.loading')}</p></main>`;
  } else page = html`<main class="narrow"><h1>404</h1><p><${Link} href="/">${t('nav.home')}<//></p></main>`;

  return html`<div class="app" data-lang=${lang}>
    <${TopBar} brand=${(pub && pub.site_brand) || 'Lotus'} me=${me} path=${path} theme=${theme}
      onTheme=${toggleTheme} onLang=${changeLang} onLogout=${logout} />
    ${page}
  </div>`;
}

setLang(pickLang(load(LANG_KEY), navigator.languages || [navigator.language]));
if (load(THEME_KEY)) applyTheme(effectiveTheme());
render(html`<${App} />`, document.getElementById('app'));
