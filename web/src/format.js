// Number formatting for the cards and tables. Byte units are binary (1 KiB = 1024 B).
import { t } from './i18n.js';

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
export function bytes(n) {
  n = Number(n) || 0;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + ' ' + units[i];
}
export const speed = (n) => bytes(n) + '/s';
export const pct = (used, total) => (total > 0 ? Math.min(100, Math.max(0, (used / total) * 100)) : 0);
export const fixed = (x, d = 2) => (Number(x) || 0).toFixed(d);

export function duration(sec) {
  sec = Math.max(0, Math.floor(Number(sec) || 0));
  const d = Math.floor(sec / 86400), h = Math.floor((sec % 86400) / 3600), m = Math.floor((sec % 3600) / 60);
  if (d > 0) return `${d} ${t('time.d')} ${h} ${t('time.h')}`;
  if (h > 0) return `${h} ${t('time.h')} ${m} ${t('time.m')}`;
  if (m > 0) return `${m} ${t('time.m')}`;
  return `${sec} ${t('time.s')}`;
}

// Unix ms (0 = never) as a local date and time.
export function dateMs(ms) {
  if (!ms || ms <= 0) return t('common.never');
  const d = new Date(ms);
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
