// views.js: helpers shared by the view modules (skills.js, mcp.js,
// portfolio.js): tolerant field access, counts that may come as text
// ("fewer than K"), tables, empty states and the detail dialog. Every
// string from the API goes into the page as text.

import { $, el, fmtNum, fmtMs } from './util.js';

// pick returns the first of keys that obj holds (not null or undefined).
export function pick(obj, ...keys) {
  if (obj == null) return undefined;
  for (const k of keys) {
    if (obj[k] !== undefined && obj[k] !== null) return obj[k];
  }
  return undefined;
}

// list returns the array of an answer: the answer itself, or its first
// array field among keys.
export function list(res, ...keys) {
  if (Array.isArray(res)) return res;
  for (const k of keys) {
    if (Array.isArray(res?.[k])) return res[k];
  }
  return [];
}

// fmtCount formats a count; a count the server hides ("fewer than 5")
// is shown as the server's text.
export function fmtCount(n) {
  if (typeof n === 'string' && Number.isNaN(+n)) return n;
  return fmtNum(n);
}

// fmtShare formats a share given as a percentage ("12.50" or 12.5) or,
// when ratio is set, as a ratio (0.125).
export function fmtShare(v, ratio = false) {
  if (v == null || v === '' || Number.isNaN(+v)) return '—';
  const p = ratio ? 100 * +v : +v;
  return `${p.toFixed(p !== 0 && Math.abs(p) < 10 ? 1 : 0)}%`;
}

// fmtDur formats a duration in ms; a missing one reads "no data".
export function fmtDur(ms) {
  return ms == null || ms === '' || Number.isNaN(+ms) ? 'no data' : fmtMs(ms);
}

// fmtTrend formats a relative change in % (number or string), with its arrow.
export function fmtTrend(change) {
  if (change == null || change === '' || Number.isNaN(+change)) return { text: '—', dir: 'flat' };
  const v = +change;
  const dir = Math.abs(v) < 0.05 ? 'flat' : v > 0 ? 'up' : 'down';
  const arrow = { up: '▲', down: '▼', flat: '•' }[dir];
  return { text: `${arrow} ${v > 0 ? '+' : ''}${v.toFixed(Math.abs(v) < 10 ? 1 : 0)}%`, dir };
}

// td builds a cell; num right-aligns it.
export function td(content, { num = false, className = '', title = '' } = {}) {
  const c = el('td', { className: [num ? 'num' : '', className].filter(Boolean).join(' ') }, content);
  if (title) c.title = title;
  return c;
}

// table builds a table with a header row of [label, num] pairs and rows.
export function table(cols, rows, props = {}) {
  const head = el('tr', null, ...cols.map(([label, num]) => el('th', { scope: 'col', className: num ? 'num' : '' }, label)));
  return el('table', props, el('thead', null, head), el('tbody', null, ...rows));
}

// emptyNote is the text shown where a list has no row.
export function emptyNote(text) {
  return el('p', { className: 'view-empty muted' }, text);
}

// clickable makes a table row open something on click, Enter or Space.
export function clickable(tr, label, open) {
  tr.tabIndex = 0;
  tr.classList.add('clickable');
  tr.setAttribute('aria-label', label);
  tr.addEventListener('click', open);
  tr.addEventListener('keydown', (e) => {
    if (e.target === tr && (e.key === 'Enter' || e.key === ' ')) {
      e.preventDefault();
      open();
    }
  });
  return tr;
}

// stats builds a <dl> of [label, value] pairs, as the tool detail shows.
export function stats(pairs) {
  return el('dl', { className: 'stats' }, ...pairs.map(([k, v]) => el('div', null, el('dt', null, k), el('dd', null, v))));
}

// ---- the detail dialog of skills and MCP servers ---------------------------

const dlg = $('#view-detail');
let gen = 0;

// openDetail opens the dialog titled title (a node or text) and fills its
// body with what fill() returns ({nodes, after, period}: after runs once
// the nodes are in the page, to draw charts), or the error it throws.
// Resolves once it is drawn; a later call supersedes an earlier one.
export async function openDetail(kind, title, fill) {
  const g = ++gen;
  dlg.dataset.kind = kind;
  dlg.dataset.state = 'loading';
  $('#view-detail-name').replaceChildren(title);
  $('#view-detail-period').textContent = '';
  const body = $('#view-detail-body');
  body.replaceChildren(el('p', { className: 'muted' }, 'Loading…'));
  if (!dlg.open) dlg.showModal();
  try {
    const { nodes, after, period } = await fill();
    if (g !== gen) return;
    $('#view-detail-period').textContent = period ? `Last ${period}` : '';
    body.replaceChildren(...nodes);
    after?.();
    dlg.dataset.state = 'ready';
  } catch (e) {
    if (g !== gen) return;
    body.replaceChildren(el('p', { className: 'muted' }, e?.status === 404 ? 'Nothing for this in the window.' : `Could not load this: ${e?.message || e}`));
    dlg.dataset.state = 'error';
  }
}

function closeDetail() {
  gen++;
  if (dlg.open) dlg.close();
}

$('#view-detail-close').addEventListener('click', closeDetail);
dlg.addEventListener('close', () => { gen++; });
dlg.addEventListener('click', (e) => {
  if (e.target !== dlg) return;
  const r = dlg.getBoundingClientRect();
  if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) closeDetail();
});
