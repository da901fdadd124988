// live.js: client of /analytics/live (Server-Sent Events read with fetch so
// the x-api-key header can be sent), with its own SSE parser, reconnection
// with backoff and a watchdog for silent connections.

import { ts, getKey, authHeaders, needKey } from './api.js';

const PATH = '/analytics/live';
const SILENCE_MS = 60e3; // the server pings far more often than this

// parseSSE feeds decoded text to an SSE parser and calls
// dispatch(event, data) for each complete message. Returns push(text).
export function sseParser(dispatch) {
  let buf = '';
  let event = '';
  let data = [];
  const line = (l) => {
    if (l === '') {
      if (data.length) dispatch(event || 'message', data.join('\n'));
      event = '';
      data = [];
      return;
    }
    if (l[0] === ':') return; // comment / heartbeat
    const i = l.indexOf(':');
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  };
  return (text) => {
    buf += text;
    let m;
    const re = /\r\n|\r|\n/g;
    let start = 0;
    while ((m = re.exec(buf))) {
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (m[0] === '\r' && m.index === buf.length - 1) break;
      line(buf.slice(start, m.index));
      start = m.index + m[0].length;
    }
    buf = buf.slice(start);
  };
}

// createLive returns {start, stop}. Callbacks: onEvents(array),
// onDropped(n), onStatus(status, retryMs) with status one of
// off / connecting / connected / reconnecting / unavailable.
export function createLive({ onEvents, onDropped, onStatus }) {
  let running = false;
  let ctrl = null;
  let timer = 0;
  let attempt = 0;

  const dispatch = (event, data) => {
    let v;
    try { v = JSON.parse(data); } catch { return; }
    if (event === 'events' && Array.isArray(v)) onEvents(v);
    else if (event === 'dropped' && v && v.dropped) onDropped(+v.dropped || 0);
  };

  const retry = (status, ms) => {
    if (!running) return;
    const delay = ms ?? Math.min(30e3, 1000 * 2 ** attempt++);
    onStatus(status, delay);
    clearTimeout(timer);
    timer = setTimeout(connect, delay);
  };

  async function connect() {
    if (!running) return;
    const c = ctrl = new AbortController();
    onStatus('connecting');
    let watchdog = 0;
    try {
      const key = getKey();
      ts.requests.push(PATH);
      const res = await fetch(PATH, { headers: { accept: 'text/event-stream', ...authHeaders(key) }, signal: c.signal, cache: 'no-store' });
      if (res.status === 401) {
        await needKey(key);
        if (running && !c.signal.aborted) connect();
        return;
      }
      if (res.status === 503) {
        retry('unavailable', 30e3);
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      onStatus('connected');
      attempt = 0;
      const push = sseParser(dispatch);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let last = Date.now();
      watchdog = setInterval(() => { if (Date.now() - last > SILENCE_MS) c.abort(); }, 10e3);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        last = Date.now();
        push(dec.decode(value, { stream: true }));
      }
      retry('reconnecting'); // the server closed the stream
    } catch {
      // Aborted by stop(): nothing to do; by the watchdog or a network error: retry.
      if (running && ctrl === c) retry('reconnecting');
    } finally {
      clearInterval(watchdog);
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      attempt = 0;
      connect();
    },
    stop() {
      running = false;
      clearTimeout(timer);
      ctrl?.abort();
      ctrl = null;
      onStatus('off');
    },
  };
}
