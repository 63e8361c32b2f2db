// Small formatting and DOM helpers.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'style') node.style.cssText = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

export function bytes(n) {
  if (!Number.isFinite(n)) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export const int = n => Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
export const ms = n => Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(0)) + ' ms' : '–';

export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function time(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

/** A short silo label from "S127.0.0.1:11111:123456": "127.0.0.1:11111". */
export const siloLabel = address => (address ?? '').replace(/^S/, '').split(':').slice(0, 2).join(':');

const palette = ['#1f6feb', '#12b76a', '#f79009', '#9e77ed', '#ef6820', '#06aed4', '#ee46bc', '#667085'];
const colors = new Map();
export function siloColor(address) {
  const key = siloLabel(address);
  if (!colors.has(key)) colors.set(key, palette[colors.size % palette.length]);
  return colors.get(key);
}
