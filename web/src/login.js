// Login page: POST /api/login, keeps the CSRF token from the reply, then opens the admin panel.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { t, tServer } from './i18n.js';
import { post, ok, setCsrf } from './api.js';
import { Alert, navigate } from './ui.js';

export function Login({ onLogin }) {
  const [u, setU] = useState('');
  const [p, setP] = useState('');
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setErr('');
    const r = await post('/api/login', { username: u, password: p });
    setBusy(false);
    if (ok(r) && r.result) {
      setCsrf(r.result.csrf);
      onLogin(r.result);
      navigate('/admin/servers');
    } else {
      setErr(r.code === -1 ? t('err.network') : tServer(r.message) || t('common.error'));
    }
  };
  return html`<main class="narrow">
    <form class="panel" onSubmit=${submit}>
      <h1>${t('login.title')}</h1>
      <label>${t('login.username')}<input name="username" autocomplete="username" value=${u} onInput=${(e) => setU(e.target.value)} required /></label>
      <label>${t('login.password')}<input name="password" type="password" autocomplete="current-password" value=${p} onInput=${(e) => setP(e.target.value)} required /></label>
      <${Alert} msg=${err} />
      <button class="primary" type="submit" disabled=${busy}>${t('login.submit')}</button>
    </form>
  </main>`;
}
