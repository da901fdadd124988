// app.js: the Track Skills dashboard. Five views, chosen by tabs and the
// location hash: Skills (skills.js, the default), MCP servers (mcp.js),
// Portfolio (portfolio.js), Costs (costs.js) and Tools, drawn here: the cards, charts and
// tables of tool calls, the tool detail dialog and the live feed. The time
// range is shared by every view and kept with the filters in the query
// string; the pipeline strip (pipeline.js) shows in every view.
// data-state on <html> tells the tests where the current view is: loading /
// ready / empty / needs-key / error; data-view which view it is.

import { $, el, setText, fmtNum, fmtMs, fmtPct, fmtDateTime, fmtTime, fmtDay, truncate } from './util.js';
import { ts, api, windowParams, prevWindow, keyDialogOpen } from './api.js';
import { drawTimeseries, drawTools, drawStatusBars, drawDau, drawLatency, drawDetail, retheme, hasDurations } from './charts.js';
import { toolLabel, nameNode } from './names.js';
import * as skillsView from './skills.js';
import * as mcpView from './mcp.js';
import * as portfolioView from './portfolio.js';
import * as costsView from './costs.js';
import { createLive } from './live.js';
import { startPipeline } from './pipeline.js';

const RANGES = ['24h', '7d', '30d', '90d'];
// VIEWS in the order of the tabs; the first is the default. tools is drawn here.
const VIEWS = { skills: skillsView, mcp: mcpView, portfolio: portfolioView, costs: costsView, tools: null };
const VIEW_LABEL = { skills: 'skills', mcp: 'MCP servers', portfolio: 'portfolio', costs: 'costs', tools: 'dashboard' };
const PREV_LABEL = { '24h': 'previous 24 hours', '7d': 'previous 7 days', '30d': 'previous 30 days', '90d': 'previous 90 days' };
const REFRESH_MS = 60e3;
const MSG_LEN = 120;
const FEED_MAX = 50;
const root = document.documentElement;

const state = readURL();
state.errorsTool = state.tool;

let loadCtrl = null;
let loading = false;
let lastLoad = 0;
let summary = null; // current window's summary, bumped by live events
let detailGen = 0;

function setState(s) {
  root.dataset.state = s;
  if (s === 'ready' && ts.loadedMs == null) ts.loadedMs = performance.now();
}

// ---- URL state -------------------------------------------------------------

function readURL() {
  const p = new URLSearchParams(location.search);
  const r = p.get('range');
  return {
    range: RANGES.includes(r) ? r : '7d',
    tool: p.get('tool') || '',
    category: p.get('category') || '',
    detail: p.get('detail') || '',
    live: p.get('live') === '1',
    view: readView(),
  };
}

function readView() {
  const h = location.hash.replace(/^#/, '');
  return Object.hasOwn(VIEWS, h) ? h : 'skills';
}

function writeURL() {
  const p = new URLSearchParams({ range: state.range });
  if (state.tool) p.set('tool', state.tool);
  if (state.category) p.set('category', state.category);
  if (state.detail) p.set('detail', state.detail);
  if (state.live) p.set('live', '1');
  history.replaceState(null, '', `${location.pathname}?${p}#${state.view}`);
}

// ---- loading ---------------------------------------------------------------

function showBanner(text) {
  const b = $('#error-banner');
  b.textContent = text;
  b.hidden = !text;
}

const isAbort = (e) => e?.name === 'AbortError';

// load fetches everything the current view needs and draws it.
async function load() {
  loadCtrl?.abort();
  const ctrl = loadCtrl = new AbortController();
  const { signal } = ctrl;
  const get = (path, params) => api(path, params, { signal });
  const view = state.view;
  loading = true;
  lastLoad = Date.now();
  setState('loading');
  showView(view);
  const panel = viewPanel(view);
  panel.dataset.state = 'loading';
  try {
    let s = view === 'tools' ? await loadTools(get, signal) : await VIEWS[view].load({ get, w: windowParams(state.range), signal });
    panel.dataset.state = s;
    if (s === 'empty' && view !== 'tools') {
      // A view with nothing to show: is there no event at all?
      const all = await get('/analytics/summary', { days: 365 });
      if (!all.total_invocations) showEmpty(true);
      else s = 'ready';
    }
    if (s !== 'empty') {
      showEmpty(false);
      showBanner('');
    }
    finish(s);
  } catch (e) {
    if (isAbort(e) || signal.aborted) return;
    showBanner(`Could not load the ${VIEW_LABEL[view]}: ${e.message || e}`);
    panel.dataset.state = 'error';
    finish('error');
  } finally {
    if (loadCtrl === ctrl) loading = false;
  }

  function finish(s) {
    if (signal.aborted) return;
    setText('#last-updated', `Updated ${fmtTime(Date.now())}`);
    setState(s);
  }
}

// loadTools loads and draws the Tools view; returns 'ready' or 'empty'.
async function loadTools(get, signal) {
  const w = windowParams(state.range);
  const f = { tool: state.tool, category: state.category };
  const [sum, prev, tools, cats, series, ret, cohorts, errors] = await Promise.all([
    get('/analytics/summary', { ...w, ...f }),
    get('/analytics/summary', { ...prevWindow(state.range), ...f }),
    get('/analytics/tools', { ...w, category: state.category }),
    get('/analytics/categories', w),
    get('/analytics/timeseries', { ...w, ...f }),
    // retention takes no category; 24h would give one or two days of DAU
    get('/analytics/retention', { ...(state.range === '24h' ? { days: 7 } : w), tool: state.tool }),
    get('/analytics/cohorts', { weeks: state.range === '90d' ? 13 : 8 }),
    get('/analytics/errors', { ...w, limit: 50, status: 'error,timeout', tool: state.errorsTool, category: state.category }),
  ]);
  fillToolSelects(tools || []);
  fillCategories(cats || []);
  const has = sum.total_invocations > 0;
  if (!has) {
    const all = await get('/analytics/summary', { days: 365 });
    if (!all.total_invocations) {
      showEmpty(true);
      return 'empty';
    }
  }
  showEmpty(false);
  showBanner('');
  summary = sum;
  drawCards(sum, prev);
  $('#no-data').hidden = has;
  $('#charts').hidden = !has;
  if (has) drawCharts(tools, series, ret);
  drawCohorts(cohorts || []);
  drawErrors(errors?.errors || []);
  if (state.detail) await loadDetail(state.detail, signal);
  return 'ready';
}

const viewPanel = (v) => (v === 'tools' ? $('#dashboard') : $(`#view-${v}`));

// showView shows the panel of view v and marks its tab.
function showView(v) {
  root.dataset.view = v;
  for (const name of Object.keys(VIEWS)) {
    viewPanel(name).hidden = name !== v;
    const tab = $(`#tab-${name}`);
    tab.setAttribute('aria-selected', String(name === v));
    tab.tabIndex = name === v ? 0 : -1;
  }
}

function showEmpty(on) {
  $('#empty-state').hidden = !on;
  if (on) for (const name of Object.keys(VIEWS)) viewPanel(name).hidden = true;
  else viewPanel(state.view).hidden = false;
  if (on) {
    showBanner('');
    setText('#empty-curl', `curl -X POST ${location.origin}/api/track -H 'Content-Type: application/json' -d '{"tool_name":"my-skill","status":"success","duration_ms":120}'`);
  }
}

// ---- filters ---------------------------------------------------------------

// setOptions fills a <select> (first option "All ...") with names, keeping
// the selected value even when it is not in the list.
function setOptions(select, names, selected) {
  const list = [...names];
  if (selected && !list.includes(selected)) list.unshift(selected);
  const sig = list.join('\u0000');
  if (select.dataset.sig !== sig) {
    select.dataset.sig = sig;
    const first = select.options[0];
    select.replaceChildren(first, ...list.map((n) => {
      const o = new Option(toolLabel(n), n);
      o.title = n;
      return o;
    }));
  }
  select.value = selected;
}

function fillToolSelects(tools) {
  const names = tools.map((t) => t.tool_name);
  setOptions($('#filter-tool'), names, state.tool);
  setOptions($('#errors-tool'), names, state.errorsTool);
}

function fillCategories(cats) {
  setOptions($('#filter-category'), cats.map((c) => c.tool_category).filter(Boolean), state.category);
}

// ---- cards -----------------------------------------------------------------

const nf1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, signDisplay: 'exceptZero' });

// delta: relative change in % (or difference in points when pts).
function delta(cur, prev, pts) {
  if (cur == null || prev == null || Number.isNaN(+cur) || Number.isNaN(+prev)) return null;
  if (pts) return { diff: +cur - +prev, text: `${nf1.format(+cur - +prev)} pts` };
  if (+prev === 0) return null;
  const d = (100 * (+cur - +prev)) / +prev;
  return { diff: d, text: `${nf1.format(d)}%` };
}

function card(id, value, d, upIsGood) {
  const c = $(`#card-${id}`);
  setText(c.querySelector('.value'), value);
  const e = c.querySelector('.delta');
  e.className = 'delta';
  if (!d) {
    e.textContent = '—';
    e.title = 'no data in the previous window';
    return;
  }
  const dir = Math.abs(d.diff) < 0.05 ? 'flat' : d.diff > 0 ? 'up' : 'down';
  const arrow = { up: '▲', down: '▼', flat: '•' }[dir];
  e.textContent = `${arrow} ${d.text} vs ${PREV_LABEL[state.range]}`;
  e.title = '';
  if (dir !== 'flat') e.classList.add(dir, (dir === 'up') === upIsGood ? 'good' : 'bad');
}

function drawCards(cur, prev) {
  const has = cur.total_invocations > 0;
  const p = prev && prev.total_invocations > 0 ? prev : null;
  const d = (k, pts) => (has && p ? delta(cur[k], p[k], pts) : null);
  card('invocations', fmtNum(cur.total_invocations), p ? delta(cur.total_invocations, p.total_invocations) : null, true);
  card('users', fmtNum(cur.unique_users), p ? delta(cur.unique_users, p.unique_users) : null, true);
  card('success', has ? fmtPct(cur.success_rate) : '—', d('success_rate', true), true);
  // Without durations the API answers 0 ms: say "no data" instead.
  const dur = has && hasDurations(cur);
  const dd = (k) => (dur && hasDurations(p) ? d(k) : null);
  card('avg', !has ? '—' : dur ? fmtMs(cur.avg_duration_ms) : 'no data', dd('avg_duration_ms'), false);
  card('p95', !has ? '—' : dur ? fmtMs(cur.p95_duration_ms) : 'no data', dd('p95_duration_ms'), false);
}

// ---- charts ----------------------------------------------------------------

function drawCharts(tools, series, ret) {
  const shown = state.tool ? tools.filter((t) => t.tool_name === state.tool) : tools;
  setText('#ts-note', series?.interval === 'hour' ? 'per hour, local time' : 'per UTC day');
  drawTimeseries(series || { buckets: [] });
  drawTools(shown, openDetail);
  drawStatusBars(shown, openDetail);
  drawDau(ret?.daily_active_users || []);
  setText('#dau-note', ret ? `WAU ${fmtNum(ret.weekly_active_users)} · MAU ${fmtNum(ret.monthly_active_users)}` : '');
  drawLatency(shown);
}

// ---- cohorts ---------------------------------------------------------------

function drawCohorts(rows) {
  const table = $('#cohorts');
  const k = rows.reduce((m, r) => Math.max(m, r.retention?.length || 0), 0);
  const max = rows.reduce((m, r) => Math.max(m, ...(r.retention || [])), 0) || 1;
  const heat = getComputedStyle(root).getPropertyValue('--heat-rgb').trim();
  const head = el('tr', null, el('th', { scope: 'col' }, 'Week'), el('th', { scope: 'col' }, 'Users'));
  for (let i = 1; i <= k; i++) head.append(el('th', { scope: 'col' }, `W+${i}`));
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...rows.map((r) => {
    const tr = el('tr', null, el('th', { scope: 'row' }, fmtDay(r.week)), el('td', { className: 'num' }, fmtNum(r.users)));
    for (let i = 0; i < k; i++) {
      const v = r.users > 0 ? r.retention?.[i] : null;
      const td = el('td', { className: 'num heat' }, v == null ? '' : `${(100 * v).toFixed(1)}%`);
      if (v != null) {
        const a = 0.08 + (0.82 * v) / max;
        td.dataset.a = a.toFixed(2);
        td.style.backgroundColor = `rgba(${heat}, ${td.dataset.a})`;
        if (a > 0.55) td.classList.add('strong');
      }
      tr.append(td);
    }
    return tr;
  }));
}

// ---- errors ----------------------------------------------------------------

function toolButton(name) {
  const b = el('button', { type: 'button', className: 'link', title: name }, nameNode(name));
  b.setAttribute('aria-label', `Details of ${name}`);
  b.addEventListener('click', (e) => {
    e.stopPropagation();
    openDetail(name);
  });
  return b;
}

function drawErrors(list) {
  $('#errors-empty').hidden = list.length > 0;
  $('#errors').tBodies[0].replaceChildren(...list.map((x) => {
    const full = x.error_message == null || x.error_message === '' ? '—' : String(x.error_message);
    const msg = el('td', { className: 'msg' }, truncate(full, MSG_LEN));
    const cells = [
      el('td', { className: 'time', title: `${x.timestamp} UTC` }, x.timestamp_ms ? fmtDateTime(x.timestamp_ms) : x.timestamp),
      el('td', { className: 'tool' }, x.tool_name ? toolButton(x.tool_name) : '—'),
      el('td', { className: 'type' }, x.error_type || '—'),
      msg,
    ];
    // The labels head each cell in the stacked layout of a narrow screen.
    ['Time', 'Tool', 'Type', 'Message'].forEach((l, i) => { cells[i].dataset.label = l; });
    const tr = el('tr', null, ...cells);
    if (full.length > MSG_LEN) {
      tr.tabIndex = 0;
      tr.className = 'expandable';
      tr.setAttribute('aria-expanded', 'false');
      const toggle = () => {
        const open = tr.getAttribute('aria-expanded') !== 'true';
        tr.setAttribute('aria-expanded', String(open));
        msg.textContent = open ? full : truncate(full, MSG_LEN);
      };
      tr.addEventListener('click', toggle);
      tr.addEventListener('keydown', (e) => {
        if (e.target === tr && (e.key === 'Enter' || e.key === ' ')) {
          e.preventDefault();
          toggle();
        }
      });
    }
    return tr;
  }));
}

async function reloadErrors() {
  try {
    const r = await api('/analytics/errors', { ...windowParams(state.range), limit: 50, status: 'error,timeout', tool: state.errorsTool, category: state.category });
    drawErrors(r?.errors || []);
  } catch (e) {
    showBanner(`Could not load the errors: ${e.message || e}`);
  }
}

// ---- tool detail -----------------------------------------------------------

const detailDlg = $('#tool-detail');

function openDetail(name) {
  state.detail = name;
  writeURL();
  // During a load() the state stays as load() sets it; otherwise loading -> ready.
  const own = !loading;
  if (own) setState('loading');
  loadDetail(name).then((ok) => { if (ok && own && !loading) setState('ready'); }, () => {});
}

// loadDetail opens the dialog and fills it; resolves false if superseded.
async function loadDetail(name, signal) {
  const gen = ++detailGen;
  $('#tool-detail-name').replaceChildren(nameNode(name));
  setText('#tool-detail-period', '');
  const msg = $('#tool-detail-message');
  msg.hidden = true;
  if (!detailDlg.open) detailDlg.showModal();
  let d;
  try {
    d = await api('/analytics/tool', { name, ...windowParams(state.range) }, { signal });
  } catch (e) {
    if (isAbort(e)) throw e;
    if (gen !== detailGen) return false;
    $('#tool-detail-body').hidden = true;
    msg.textContent = e.status === 404 ? 'No events for this tool in this window.' : `Could not load this tool: ${e.message}`;
    msg.hidden = false;
    return true;
  }
  if (gen !== detailGen) return false;
  $('#tool-detail-body').hidden = false;
  setText('#tool-detail-period', `Last ${d.period}${d.categories?.length ? ` · ${d.categories.map((c) => c.tool_category).join(', ')}` : ''}`);
  const ms = hasDurations(d) ? fmtMs : () => 'no data';
  const stats = [
    ['Invocations', fmtNum(d.invocations)], ['Users', fmtNum(d.unique_users)],
    ['Success', fmtPct(d.success_rate)], ['Errors', fmtPct(d.error_rate)], ['Timeouts', fmtPct(d.timeout_rate)],
    ['Average', ms(d.avg_duration_ms)], ['p50', ms(d.p50_duration_ms)], ['p95', ms(d.p95_duration_ms)],
    ['p99', ms(d.p99_duration_ms)], ['Max', ms(d.max_duration_ms)],
  ];
  $('#tool-detail-stats').replaceChildren(...stats.map(([k, v]) => el('div', null, el('dt', null, k), el('dd', null, v))));
  const types = d.error_types || [];
  $('#tool-detail-errors').tBodies[0].replaceChildren(...(types.length
    ? types.map((t) => el('tr', null, el('td', null, t.error_type || '—'), el('td', { className: 'num' }, fmtNum(t.count))))
    : [el('tr', null, el('td', { colSpan: 2, className: 'muted' }, 'No errors'))]));
  drawDetail(d.daily || []);
  return true;
}

// closeDetail forgets the detail (URL included) at once; the dialog's close
// event, which also follows Escape, comes a little later.
function closeDetail() {
  detailGen++;
  if (state.detail) {
    state.detail = '';
    writeURL();
  }
  if (root.dataset.state === 'loading' && !loading) setState('ready');
}

detailDlg.addEventListener('close', closeDetail);
$('#tool-detail-close').addEventListener('click', () => {
  closeDetail();
  detailDlg.close();
});
// A click on the backdrop (outside the dialog box) closes it.
detailDlg.addEventListener('click', (e) => {
  if (e.target !== detailDlg) return;
  const r = detailDlg.getBoundingClientRect();
  if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) {
    closeDetail();
    detailDlg.close();
  }
});

// ---- live ------------------------------------------------------------------

const STATUS_TEXT = { off: 'off', connecting: 'connecting…', connected: 'connected', reconnecting: 'reconnecting', unavailable: 'unavailable' };
let liveCount = 0;
let liveDropped = 0;

const live = createLive({
  onEvents(list) {
    const feed = $('#live-feed');
    const sorted = [...list].sort((a, b) => (a.timestamp || 0) - (b.timestamp || 0));
    for (const ev of sorted) {
      const st = ['success', 'error', 'timeout'].includes(ev.status) ? ev.status : 'other';
      feed.prepend(el('li', { className: `st-${st}` },
        el('time', null, fmtTime(ev.timestamp || Date.now())), ' ',
        ev.tool_name == null ? el('span', { className: 'tool' }, '?') : Object.assign(nameNode(ev.tool_name), { className: 'tool' }), ' ',
        el('span', { className: 'status' }, ev.status ?? ''), ' ',
        el('span', { className: 'dur' }, ev.duration_ms == null ? '' : fmtMs(ev.duration_ms))));
      liveCount++;
      if (summary && (!state.tool || ev.tool_name === state.tool) && (!state.category || ev.tool_category === state.category)) {
        summary.total_invocations++;
        setText('#card-invocations .value', fmtNum(summary.total_invocations));
      }
    }
    while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
    showLiveCount();
    // The first events arrive on an empty dashboard: show it.
    if (root.dataset.state === 'empty' && !loading) load();
  },
  onDropped(n) {
    liveDropped += n;
    showLiveCount();
  },
  onStatus(s, retryMs) {
    const e = $('#live-status');
    e.dataset.status = s;
    e.textContent = retryMs && s !== 'connected' ? `${STATUS_TEXT[s]} (retry in ${Math.round(retryMs / 1000)} s)` : STATUS_TEXT[s];
  },
});

function showLiveCount() {
  setText('#live-count', `${fmtNum(liveCount)} new event${liveCount === 1 ? '' : 's'}${liveDropped ? `, ${fmtNum(liveDropped)} skipped (too fast to show)` : ''}`);
}

function setLive(on) {
  state.live = on;
  $('#live-toggle').checked = on;
  $('#live-panel').hidden = !on;
  writeURL();
  if (on) {
    showLiveCount();
    live.start();
  } else {
    live.stop();
  }
}

// ---- controls --------------------------------------------------------------

function markRange() {
  for (const b of document.querySelectorAll('button[data-range]')) {
    b.setAttribute('aria-pressed', String(b.dataset.range === state.range));
  }
}

for (const b of document.querySelectorAll('button[data-range]')) {
  b.addEventListener('click', () => {
    if (state.range === b.dataset.range && root.dataset.state !== 'error') return;
    state.range = b.dataset.range;
    markRange();
    writeURL();
    load();
  });
}

$('#filter-tool').addEventListener('change', (e) => {
  state.tool = state.errorsTool = e.target.value;
  writeURL();
  load();
});
$('#filter-category').addEventListener('change', (e) => {
  state.category = e.target.value;
  writeURL();
  load();
});
$('#errors-tool').addEventListener('change', (e) => {
  state.errorsTool = e.target.value;
  reloadErrors();
});
$('#live-toggle').addEventListener('change', (e) => setLive(e.target.checked));

// ---- tabs ------------------------------------------------------------------

// A tab is a link to its hash; the arrow keys, Home and End move between
// tabs (and open them), as the tabs pattern of WAI-ARIA has it.
function setView(v) {
  if (v === state.view && root.dataset.state !== 'error') return;
  state.view = v;
  writeURL();
  load();
}

window.addEventListener('hashchange', () => setView(readView()));
const tabs = [...document.querySelectorAll('.tabs [role="tab"]')];
for (const tab of tabs) {
  tab.addEventListener('click', (e) => {
    e.preventDefault();
    setView(tab.dataset.view);
  });
  tab.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(tab);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (to === undefined) {
      if (e.key === ' ') {
        e.preventDefault();
        setView(tab.dataset.view);
      }
      return;
    }
    e.preventDefault();
    const next = tabs[(to + tabs.length) % tabs.length];
    next.focus();
    setView(next.dataset.view);
  });
}

for (const btn of document.querySelectorAll('button.copy')) {
  btn.addEventListener('click', async () => {
    const text = btn.previousElementSibling?.textContent || '';
    try {
      await navigator.clipboard.writeText(text);
      btn.textContent = 'Copied';
    } catch {
      btn.textContent = 'Select and copy';
    }
    setTimeout(() => { btn.textContent = 'Copy'; }, 2000);
  });
}

// Auto-refresh every minute while the tab is visible.
const refresh = () => {
  if (!document.hidden && !keyDialogOpen() && !loading && Date.now() - lastLoad >= REFRESH_MS - 1000) load();
};
setInterval(refresh, REFRESH_MS);
document.addEventListener('visibilitychange', refresh);

// Follow a change of colour scheme: charts and cohort shading.
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
  retheme();
  const heat = getComputedStyle(root).getPropertyValue('--heat-rgb').trim();
  for (const td of document.querySelectorAll('#cohorts td[data-a]')) {
    td.style.backgroundColor = `rgba(${heat}, ${td.dataset.a})`;
  }
});

// ---- start -----------------------------------------------------------------

startPipeline(); // needs no charts
if (!window.Chart) {
  showBanner('Could not load the charts library (/static/vendor/chart.umd.js).');
  setState('error');
} else {
  markRange();
  writeURL();
  if (state.live) setLive(true);
  load();
}
