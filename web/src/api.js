// Talks to the dashboard's JSON API (docs/api-admin.md). Every reply is normalised to
// {code, message, result}; ok(r) tells success (code 0 or 200). State-changing requests
// carry X-CSRF-Token, taken from the login reply or GET /api/me.

let csrf = '';
export function setCsrf(v) { csrf = typeof v === 'string' ? v : ''; }

export const ok = (r) => r && (r.code === 0 || r.code === 200);
export const isLoginRequired = (r) => r && r.code === 403 && r.message !== '访问受限';
export const isViewRestricted = (r) => r && r.code === 403 && r.message === '访问受限';

export async function api(method, path, body) {
  const opt = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (method !== 'GET') {
    opt.headers['Content-Type'] = 'application/json';
    if (csrf) opt.headers['X-CSRF-Token'] = csrf;
    opt.body = JSON.stringify(body === undefined ? {} : body);
  }
  let res;
  try {
    res = await fetch(path, opt);
  } catch (e) {
    return { code: -1, message: 'network', result: null };
  }
  let j = null;
  try {
    j = await res.json();
  } catch (e) {
    j = null;
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) {
    return { code: res.status === 200 ? 500 : res.status, message: 'HTTP ' + res.status, result: null };
  }
  return { code: typeof j.code === 'number' ? j.code : res.status, message: j.message || '', result: j.result ?? null };
}

export const get = (p) => api('GET', p);
export const post = (p, b) => api('POST', p, b);
export const del = (p) => api('DELETE', p);
