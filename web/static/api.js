// api.js: fetch wrapper for /analytics/*, read-key handling (x-api-key,
// the key dialog on 401), the request log and the time-window parameters.

import { $, el } from './util.js';

// window.trackskills is read by the end-to-end tests.
export const ts = window.trackskills = {
  loadedMs: null,
  requests: [],
  charts: { timeseries: null, tools: null, status: null, dau: null, latency: null, detail: null },
};

const KEY = 'trackskills.readKey';
let memKey = ''; // fallback when localStorage is unavailable

export function getKey() {
  try { return localStorage.getItem(KEY) || memKey; } catch { return memKey; }
}

export function authHeaders(key = getKey()) {
  return key ? { 'x-api-key': key } : {};
}

export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

let keyPrompt = null; // one shared dialog for all requests that got a 401
let stateBeforeKey = 'loading';

export const keyDialogOpen = () => keyPrompt !== null;

// needKey resolves once a new key is stored. sentKey is the key the refused
// request carried: if another request already stored a different one, retry.
export function needKey(sentKey) {
  if (getKey() !== sentKey) return Promise.resolve();
  if (keyPrompt) return keyPrompt;
  const dlg = $('#key-dialog');
  const input = $('#key-input');
  const msg = $('#key-message');
  msg.textContent = sentKey
    ? 'The saved key was refused. Enter a valid read key (ask whoever runs this Track Skills server).'
    : 'This dashboard needs a read key. Enter the key given by whoever runs this Track Skills server.';
  input.value = '';
  stateBeforeKey = document.documentElement.dataset.state;
  document.documentElement.dataset.state = 'needs-key';
  keyPrompt = new Promise((resolve) => {
    const form = $('#key-form');
    const onSubmit = (e) => {
      e.preventDefault();
      const key = input.value.trim();
      if (!key) {
        msg.textContent = 'Enter a key.';
        return;
      }
      try { localStorage.setItem(KEY, key); } catch { /* private mode: key lives for this page only */ }
      memKey = key;
      form.removeEventListener('submit', onSubmit);
      keyPrompt = null;
      dlg.close();
      document.documentElement.dataset.state = stateBeforeKey === 'needs-key' ? 'loading' : stateBeforeKey;
      resolve();
    };
    form.addEventListener('submit', onSubmit);
  });
  if (!dlg.open) dlg.showModal();
  input.focus();
  return keyPrompt;
}

// The key dialog must be answered: Escape does not close it. Browsers may
// close it anyway (no user activation): then say so, with a way back.
$('#key-dialog').addEventListener('cancel', (e) => e.preventDefault());
$('#key-dialog').addEventListener('close', () => {
  if (!keyPrompt) return;
  const banner = $('#error-banner');
  const again = el('button', { type: 'button' }, 'Enter key');
  again.addEventListener('click', () => {
    banner.hidden = true;
    document.documentElement.dataset.state = 'needs-key';
    $('#key-dialog').showModal();
  });
  banner.replaceChildren('This dashboard needs a read key to show anything. ', again);
  banner.hidden = false;
  document.documentElement.dataset.state = 'error';
});

// url builds path?query, leaving out empty parameters.
export function url(path, params = {}) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== '' && v != null) qs.set(k, v);
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

// api GETs path with params and returns the parsed JSON. A 401 opens the key
// dialog and retries; other errors throw ApiError with the server's message.
export async function api(path, params, { signal } = {}) {
  const u = url(path, params);
  for (;;) {
    const key = getKey();
    ts.requests.push(u);
    const res = await fetch(u, { headers: authHeaders(key), signal, cache: 'no-store' });
    if (res.status === 401) {
      await needKey(key);
      if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
      continue;
    }
    let body = null;
    try { body = await res.json(); } catch { /* not JSON */ }
    if (!res.ok) throw new ApiError(res.status, body?.error || `HTTP ${res.status}`, body?.field);
    return body;
  }
}

// windowParams: the query of a range button.
export function windowParams(range) {
  return range === '24h' ? { hours: 24 } : { days: parseInt(range, 10) };
}

const HOUR = 3600e3;
const DAY = 24 * HOUR;
const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');

// prevWindow is the window of the same length just before windowParams(range):
// hours=24 starts at the current hour - 23 h, days=N at UTC midnight N-1 days ago.
export function prevWindow(range, now = Date.now()) {
  if (range === '24h') {
    const h = Math.floor(now / HOUR) * HOUR;
    return { from: iso(h - 47 * HOUR), to: iso(h - 23 * HOUR) };
  }
  const n = parseInt(range, 10);
  const d0 = Math.floor(now / DAY) * DAY;
  return { from: iso(d0 - (2 * n - 1) * DAY), to: iso(d0 - (n - 1) * DAY) };
}
