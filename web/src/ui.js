// Small shared pieces: client-side navigation, modal dialog, copy button, alerts, icons.
import { html } from 'htm/preact';
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { t } from './i18n.js';

const listeners = new Set();
export function onNavigate(fn) { listeners.add(fn); return () => listeners.delete(fn); }
export function navigate(path, replace) {
  if (path !== location.pathname) history[replace ? 'replaceState' : 'pushState'](null, '', path);
  listeners.forEach((fn) => fn(path));
  window.scrollTo(0, 0);
}
window.addEventListener('popstate', () => listeners.forEach((fn) => fn(location.pathname)));

export function Link({ href, children, ...rest }) {
  const click = (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
    if (rest.onNav) rest.onNav();
  };
  const { onNav, ...attrs } = rest;
  return html`<a href=${href} onClick=${click} ...${attrs}>${children}</a>`;
}

// A modal dialog; Escape or the close button calls onClose. Focus moves to the first field.
export function Modal({ title, onClose, children, id }) {
  const ref = useRef(null);
  const titleId = (id || 'dlg') + '-title';
  // A layout effect, like the user menu's: Escape works from the first painted frame.
  useLayoutEffect(() => {
    const prev = document.activeElement;
    const el = ref.current && ref.current.querySelector('input,select,textarea,button:not(.close)');
    if (el) el.focus();
    const key = (e) => { if (e.key === 'Escape') onClose(); };
    document.addEventListener('keydown', key);
    return () => { document.removeEventListener('keydown', key); if (prev && prev.focus) prev.focus(); };
  }, []);
  return html`<div class="backdrop" onClick=${(e) => e.target === e.currentTarget && onClose()}>
    <div class="modal" role="dialog" aria-modal="true" aria-labelledby=${titleId} ref=${ref}>
      <div class="modal-head">
        <h2 id=${titleId}>${title}</h2>
        <button type="button" class="close icon" aria-label=${t('common.close')} onClick=${onClose}>${Icon.x}</button>
      </div>
      ${children}
    </div>
  </div>`;
}

// Confirmation dialog: resolves through onYes / onNo.
export function Confirm({ text, onYes, onNo, yesLabel }) {
  return html`<${Modal} title=${t('common.confirm')} onClose=${onNo} id="confirm">
    <p>${text}</p>
    <div class="actions">
      <button type="button" onClick=${onNo}>${t('common.cancel')}</button>
      <button type="button" class="danger" onClick=${onYes}>${yesLabel || t('common.confirm')}</button>
    </div>
  <//>`;
}

async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (e) { /* fall back below */ }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  let done = false;
  try { done = document.execCommand('copy'); } catch (e) { done = false; }
  ta.remove();
  return done;
}

export function CopyButton({ text, label }) {
  const [done, setDone] = useState(false);
  const click = async () => {
    if (await copyText(text)) {
      setDone(true);
      setTimeout(() => setDone(false), 1500);
    }
  };
  const name = label || t('common.copy');
  return html`<button type="button" class="copy" aria-label=${name} title=${name} onClick=${click}>
    ${Icon.copy}<span class="sr-live" aria-live="polite">${done ? t('common.copied') : ''}</span></button>`;
}

export function Alert({ msg, kind }) {
  if (!msg) return null;
  return html`<p class=${'alert ' + (kind || 'error')} role=${kind === 'ok' ? 'status' : 'alert'}>${msg}</p>`;
}

const svg = (d) => html`<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false"><path fill="currentColor" d=${d} /></svg>`;
export const Icon = {
  x: svg('M18.3 5.7 12 12l6.3 6.3-1.4 1.4L10.6 13.4 4.3 19.7 2.9 18.3 9.2 12 2.9 5.7l1.4-1.4 6.3 6.3 6.3-6.3z'),
  copy: svg('M16 1H4a2 2 0 0 0-2 2v14h2V3h12V1zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2zm0 16H8V7h11v14z'),
  trash: svg('M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6v12zM19 4h-3.5l-1-1h-5l-1 1H5v2h14V4z'),
  edit: svg('M3 17.3V21h3.7L17.8 9.9l-3.7-3.7L3 17.3zM20.7 7a1 1 0 0 0 0-1.4l-2.3-2.3a1 1 0 0 0-1.4 0l-1.8 1.8 3.7 3.7L20.7 7z'),
  term: svg('M20 4H4a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V6a2 2 0 0 0-2-2zm0 14H4V8h16v10zM6 10l4 2-4 2v-4zm5 4h6v1.5h-6z'),
  moon: svg('M12 3a9 9 0 1 0 9 9 7 7 0 0 1-9-9z'),
  sun: svg('M12 7a5 5 0 1 0 0 10 5 5 0 0 0 0-10zM11 1h2v3h-2zm0 19h2v3h-2zM1 11h3v2H1zm19 0h3v2h-3zM4.2 2.8l2.1 2.1-1.4 1.4-2.1-2.1zm13.4 13.4 2.1 2.1-1.4 1.4-2.1-2.1zM2.8 19.8l2.1-2.1 1.4 1.4-2.1 2.1zM16.2 6.3l2.1-2.1 1.4 1.4-2.1 2.1z'),
};
