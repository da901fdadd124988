// skills.js: the Skills view. A table of skills from /analytics/skills
// (runs, users, sessions, run time, tool calls per run, failure share,
// trend against the previous window); a row opens the skill's detail from
// /analytics/skills/{name}: daily series, end states, the tools and MCP
// servers its runs use, recent failed runs. Fields missing from an answer
// show as a dash. Hooks for tests: data-skill on rows, data-state on the
// view and the dialog.

import { $, el, fmtNum, fmtDateTime } from './util.js';
import { pick, list, fmtCount, fmtShare, fmtDur, fmtTrend, td, table, emptyNote, clickable, stats, openDetail } from './views.js';
import { nameNode } from './names.js';
import { drawDaily } from './charts.js';

const root = () => $('#skills-body');

// skillName is the name of a skill row or detail.
const skillName = (r) => pick(r, 'skill', 'name', 'skill_name') ?? '';

// trendOf is the change of runs against the previous window, in %, from
// previous_runs (or runs - runs_change); null when there is no previous.
function trendOf(r) {
  const runs = +pick(r, 'runs');
  let prev = pick(r, 'previous_runs', 'prev_runs');
  if (prev == null && pick(r, 'runs_change') != null) prev = runs - +r.runs_change;
  if (prev == null || Number.isNaN(+prev)) return { change: null, prev: null };
  prev = +prev;
  return { change: prev > 0 ? (100 * (runs - prev)) / prev : null, prev };
}

// endStates turns {completed: 3, ...} or [{end_state, runs}] into [name, n] pairs.
export function endStates(v) {
  if (Array.isArray(v)) return v.map((x) => [pick(x, 'end_state', 'state', 'name') ?? '?', pick(x, 'runs', 'count', 'n') ?? 0]);
  if (v && typeof v === 'object') return Object.entries(v);
  return [];
}

function trendCell(r) {
  const { change, prev } = trendOf(r);
  const t = fmtTrend(change);
  const title = prev == null ? 'against the previous window of the same length' : `${fmtNum(prev)} runs in the previous window`;
  const c = td(change == null && prev === 0 ? 'new' : t.text, { num: true, className: `trend ${t.dir}`, title });
  c.dataset.change = change == null ? '' : change.toFixed(1);
  return c;
}

function row(r, onOpen) {
  const name = skillName(r);
  const cells = [
    td(nameNode(name), { className: 'name' }),
    td(fmtCount(pick(r, 'runs')), { num: true }),
    td(fmtCount(pick(r, 'users', 'unique_users')), { num: true }),
    td(fmtCount(pick(r, 'sessions', 'unique_sessions')), { num: true }),
    td(fmtDur(pick(r, 'p50_run_ms', 'p50_wall_ms', 'p50_duration_ms', 'p50_ms')), { num: true }),
    td(fmtDur(pick(r, 'p95_run_ms', 'p95_wall_ms', 'p95_duration_ms', 'p95_ms')), { num: true }),
    td(fmtPerRun(pick(r, 'tool_calls_per_run', 'calls_per_run', 'avg_tool_calls')), { num: true }),
    td(fmtShare(pick(r, 'failure_share', 'failure_rate', 'failed_share')), { num: true }),
    trendCell(r),
  ];
  const labels = ['Skill', 'Runs', 'Users', 'Sessions', 'p50', 'p95', 'Calls/run', 'Failed', 'Trend'];
  cells.forEach((c, i) => { c.dataset.label = labels[i]; });
  const tr = el('tr', null, ...cells);
  tr.dataset.skill = name;
  return clickable(tr, `Details of ${name}`, () => onOpen(name));
}

const nf1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const fmtPerRun = (v) => (v == null || v === '' || Number.isNaN(+v) ? '—' : nf1.format(+v));

// load draws the view for the window w; returns 'ready' or 'empty'.
export async function load({ get, w }) {
  let res;
  try {
    res = await get('/analytics/skills', w);
  } catch (err) {
    // A server that does not compute skill runs (an older analytics
    // process) has no such endpoint: nothing to show, not a failure.
    if (err?.status !== 404) throw err;
    root().replaceChildren(emptyNote('This server does not compute skill runs: the Tools view has every tool call, skills included.'));
    return 'empty';
  }
  const rows = list(res, 'skills', 'items');
  if (!rows.length) {
    root().replaceChildren(emptyNote(''));
    root().firstChild.append('No skill runs in this window: runs come from the Claude Code hook, ',
      el('code', null, 'trackskills hook install'), '.');
    return 'empty';
  }
  const open = (name) => openSkill(name, w, get);
  root().replaceChildren(el('div', { className: 'scroll' }, table(
    [['Skill'], ['Runs', 1], ['Users', 1], ['Sessions', 1], ['p50 run', 1], ['p95 run', 1], ['Calls/run', 1], ['Failed', 1], ['Trend', 1]],
    rows.map((r) => row(r, open)), { id: 'skills-table', className: 'stack' })));
  return 'ready';
}

function countRows(items, keyNames, countNames) {
  return items.map((x) => {
    const name = typeof x === 'string' ? x : pick(x, ...keyNames) ?? '?';
    const n = typeof x === 'string' ? null : pick(x, ...countNames);
    return el('tr', null, td(nameNode(name), { className: 'name' }), td(fmtCount(n), { num: true }));
  });
}

// openSkill shows the detail of one skill.
function openSkill(name, w, get) {
  openDetail('skill', nameNode(name), async () => {
    const d = await get(`/analytics/skills/${encodeURIComponent(name)}`, w);
    const states = endStates(pick(d, 'end_states', 'states'));
    const daily = list(pick(d, 'daily', 'series') || []);
    const tools = list(pick(d, 'tools') || []);
    const servers = list(pick(d, 'mcp_servers', 'servers') || []);
    const failed = list(pick(d, 'recent_failed_runs', 'failed_runs', 'recent_failures') || []);
    const canvas = el('canvas', { id: 'chart-skill-detail' });
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', 'Daily runs and failed runs of this skill');
    const nodes = [
      stats([
        ['Runs', fmtCount(pick(d, 'runs'))], ['Users', fmtCount(pick(d, 'users', 'unique_users'))],
        ['Sessions', fmtCount(pick(d, 'sessions'))], ['p50 run', fmtDur(pick(d, 'p50_run_ms', 'p50_duration_ms'))],
        ['p95 run', fmtDur(pick(d, 'p95_run_ms', 'p95_duration_ms'))],
      ]),
      el('div', { className: 'chart h220' }, canvas),
      el('h3', null, 'End states'),
      states.length
        ? el('ul', { className: 'chips', id: 'skill-end-states' }, ...states.map(([k, v]) => el('li', { className: `end-${String(k).replace(/[^a-z]/g, '')}` }, `${k} `, el('strong', null, fmtCount(v)))))
        : emptyNote('No runs ended in this window.'),
      el('div', { className: 'two' },
        el('div', null, el('h3', null, 'Tools its runs use'),
          tools.length ? table([['Tool'], ['Calls', 1]], countRows(tools, ['tool_name', 'tool', 'name'], ['calls', 'count', 'invocations']), { id: 'skill-tools' }) : emptyNote('No tool calls.')),
        el('div', null, el('h3', null, 'MCP servers'),
          servers.length ? table([['Server'], ['Calls', 1]], countRows(servers, ['mcp_server', 'server', 'name'], ['calls', 'count', 'runs']), { id: 'skill-servers' }) : emptyNote('No MCP server called.'))),
      el('h3', null, 'Recent failed runs'),
      failed.length ? el('div', { className: 'scroll' }, table([['Started'], ['End state'], ['Run time', 1], ['Calls', 1], ['Failed calls', 1]], failed.map((r) => {
        const start = pick(r, 'start_ms', 'started_at_ms', 'start', 'started_at');
        const cells = [
          td(start == null ? '—' : fmtDateTime(start), { className: 'nowrap' }),
          td(String(pick(r, 'end_state', 'state') ?? '—')),
          td(fmtDur(pick(r, 'wall_ms', 'wall_time_ms', 'duration_ms')), { num: true }),
          td(fmtCount(pick(r, 'tool_calls', 'calls')), { num: true }),
          td(fmtCount(pick(r, 'failed_calls')), { num: true }),
        ];
        ['Started', 'End state', 'Run time', 'Calls', 'Failed calls'].forEach((l, i) => { cells[i].dataset.label = l; });
        return el('tr', null, ...cells);
      }), { id: 'skill-failed', className: 'stack' })) : emptyNote('No failed run in this window.'),
    ];
    const after = () => drawDaily('skillDetail', 'chart-skill-detail', daily, {
      bars: [{ label: 'Runs', keys: ['runs'], color: 'accent' }, { label: 'Failed', keys: ['failed', 'failed_runs'], color: 'error' }],
      line: { label: 'p50 run', keys: ['p50_run_ms', 'p50_ms', 'p50_duration_ms'] },
    });
    return { nodes, after, period: pick(d, 'period') };
  });
}
