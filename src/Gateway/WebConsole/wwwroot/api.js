// Calls to the gateway. The API key (when the cluster requires one) is kept in localStorage and sent as X-Api-Key.
const KEY = 'shoal.apiKey';

export function apiKey() { return localStorage.getItem(KEY) ?? ''; }
export function setApiKey(value) { if (value) localStorage.setItem(KEY, value); else localStorage.removeItem(KEY); }

/** An error answered by the API: status and the problem document's detail. */
export class ApiError extends Error {
  constructor(status, detail) { super(detail || `HTTP ${status}`); this.status = status; }
}

export async function request(method, path, body) {
  const headers = { accept: 'application/json' };
  const key = apiKey();
  if (key) headers['X-Api-Key'] = key;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!response.ok) throw new ApiError(response.status, json?.detail ?? json?.title ?? text);
  return json;
}

export const get = path => request('GET', path);
export const post = (path, body) => request('POST', path, body ?? {});

/** The Prometheus text at /metrics parsed into samples {name, labels, value}. */
export async function metrics() {
  const headers = {};
  const key = apiKey();
  if (key) headers['X-Api-Key'] = key;
  const response = await fetch('/metrics', { headers });
  if (!response.ok) throw new ApiError(response.status, 'metrics unavailable');
  const samples = [];
  for (const line of (await response.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return samples;
}
