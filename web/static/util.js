// util.js: DOM helpers, number/time formatting and theme colours.
// Every string from the API goes into the page through textContent only.

const nf = new Intl.NumberFormat();
const nf1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

export const $ = (sel) => document.querySelector(sel);

// el('td', {className: 'msg'}, 'text') builds an element; children are
// nodes or strings (strings become text nodes, never markup).
export function el(tag, props, ...children) {
  const e = document.createElement(tag);
  if (props) Object.assign(e, props);
  for (const c of children) {
    if (c != null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function setText(sel, text) {
  const e = typeof sel === 'string' ? $(sel) : sel;
  if (e) e.textContent = text;
}

// A count of the users of one group (a tool, a category) comes as the
// string "fewer than K" when the server's minimum group size hides it.
const HIDDEN_COUNT = /^fewer than (\d+)$/;

export const isHiddenCount = (n) => typeof n === 'string' && HIDDEN_COUNT.test(n);

// countValue is a count as a number to sort or plot by: a hidden count
// ("fewer than K") sorts just below K, above every smaller shown count.
export function countValue(n) {
  const m = typeof n === 'string' ? HIDDEN_COUNT.exec(n) : null;
  if (m) return +m[1] - 0.5;
  return n == null || Number.isNaN(+n) ? null : +n;
}

// fmtNum formats a number; a hidden count ("fewer than K") is shown as is.
export function fmtNum(n) {
  if (isHiddenCount(n)) return n;
  return n == null || Number.isNaN(+n) ? '—' : nf.format(n);
}

// fmtMs: "123 ms", "1.3 s", "23 s", "2.1 min".
export function fmtMs(ms) {
  if (ms == null || Number.isNaN(+ms)) return '—';
  ms = +ms;
  if (ms < 1000) return `${nf.format(Math.round(ms))} ms`;
  if (ms < 10000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 60000) return `${Math.round(ms / 1000)} s`;
  return `${nf1.format(ms / 60000)} min`;
}

export function fmtPct(s) {
  return s == null || s === '' ? '—' : `${(+s).toFixed(2)}%`;
}

// Instants (ms or ISO) are shown in the browser's time zone.
const dtFull = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const dtTime = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dtHour = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
// Calendar days (UTC dates from the API) keep their date: formatted in UTC.
const dtDay = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });

export const fmtDateTime = (t) => dtFull.format(new Date(t));
export const fmtTime = (t) => dtTime.format(new Date(t));
export const fmtHour = (t) => dtHour.format(new Date(t));
export const fmtDay = (d) => dtDay.format(new Date(String(d).slice(0, 10) + 'T00:00:00Z'));

export function truncate(s, n) {
  s = s == null ? '' : String(s);
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

// theme reads the chart colours from the CSS variables of the current scheme.
export function theme() {
  const cs = getComputedStyle(document.documentElement);
  const v = (name) => cs.getPropertyValue(name).trim();
  return {
    text: v('--muted'), grid: v('--grid'), success: v('--success'), error: v('--error'),
    timeout: v('--timeout'), accent: v('--accent'), accent2: v('--accent2'), heat: v('--heat-rgb'),
    surface: v('--surface'), fg: v('--fg'),
  };
}
