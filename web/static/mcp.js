// mcp.js: the MCP view. MCP servers from /analytics/mcp with their calls,
// users, error and timeout shares, p50/p95/p99 and tools; a row opens the
// server's detail from /analytics/mcp/{server}: per tool, daily series,
// error types, and the skills whose runs call it. Fields missing from an
// answer show as a dash. Hooks for tests: data-server on rows, data-state
// on the view and the dialog.

import { $, el } from './util.js';
import { pick, list, fmtCount, fmtShare, fmtDur, td, table, emptyNote, clickable, stats, openDetail } from './views.js';
import { drawDaily } from './charts.js';

const root = () => $('#mcp-body');
const serverName = (r) => pick(r, 'server', 'mcp_server', 'name') ?? '';
// toolName is a tool's name; "" is a call of the server that named no tool.
const toolName = (t) => (typeof t === 'string' ? t : pick(t, 'tool', 'mcp_tool', 'name', 'tool_name') ?? '?') || '(no tool named)';

// errShare and toShare are the error and timeout shares of a row.
const errShare = (r) => pick(r, 'error_share', 'error_rate');
const toShare = (r) => pick(r, 'timeout_share', 'timeout_rate') ?? pick(r.error_classes || r.classes || {}, 'timeout');

function latencies(r) {
  return ['p50', 'p95', 'p99'].map((p) => fmtDur(pick(r, `${p}_duration_ms`, `${p}_ms`)));
}

function toolsCell(r) {
  const tools = list(pick(r, 'tools') || []);
  const c = td('', { className: 'tools' });
  const shown = tools.slice(0, 4);
  shown.forEach((t, i) => {
    if (i) c.append(', ');
    const calls = typeof t === 'string' ? null : pick(t, 'calls', 'count', 'invocations');
    c.append(el('span', { className: 'tname' }, toolName(t)), calls == null ? '' : el('span', { className: 'muted' }, ` ${fmtCount(calls)}`));
  });
  if (tools.length > shown.length) c.append(el('span', { className: 'muted' }, ` +${tools.length - shown.length} more`));
  if (!tools.length) c.textContent = '—';
  return c;
}

function row(r, onOpen) {
  const name = serverName(r);
  const [p50, p95, p99] = latencies(r);
  const cells = [
    td(el('span', { className: 'tname', title: name }, name), { className: 'name' }),
    td(fmtCount(pick(r, 'calls', 'invocations')), { num: true }),
    td(fmtCount(pick(r, 'users', 'unique_users')), { num: true }),
    td(fmtShare(errShare(r)), { num: true }),
    td(fmtShare(toShare(r)), { num: true }),
    td(p50, { num: true }), td(p95, { num: true }), td(p99, { num: true }),
    toolsCell(r),
  ];
  ['Server', 'Calls', 'Users', 'Errors', 'Timeouts', 'p50', 'p95', 'p99', 'Tools'].forEach((l, i) => { cells[i].dataset.label = l; });
  const tr = el('tr', null, ...cells);
  tr.dataset.server = name;
  return clickable(tr, `Details of the MCP server ${name}`, () => onOpen(name));
}

// load draws the view for the window w; returns 'ready' or 'empty'.
export async function load({ get, w }) {
  const res = await get('/analytics/mcp', w);
  const rows = list(res, 'servers', 'mcp_servers', 'items');
  if (!rows.length) {
    root().replaceChildren(emptyNote('No MCP tool calls in this window: calls of MCP tools (mcp__<server>__<tool>) come from the Claude Code hook, '));
    root().firstChild.append(el('code', null, 'trackskills hook install'), '.');
    return 'empty';
  }
  const open = (name) => openServer(name, w, get);
  root().replaceChildren(el('div', { className: 'scroll' }, table(
    [['Server'], ['Calls', 1], ['Users', 1], ['Errors', 1], ['Timeouts', 1], ['p50', 1], ['p95', 1], ['p99', 1], ['Tools']],
    rows.map((r) => row(r, open)), { id: 'mcp-table', className: 'stack' })));
  return 'ready';
}

function openServer(name, w, get) {
  openDetail('mcp', el('span', null, name), async () => {
    const d = await get(`/analytics/mcp/${encodeURIComponent(name)}`, w);
    const tools = list(pick(d, 'tools') || []);
    const daily = list(pick(d, 'daily', 'series') || []);
    const types = list(pick(d, 'error_types') || []);
    const skills = list(pick(d, 'skills') || []);
    const canvas = el('canvas', { id: 'chart-mcp-detail' });
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', 'Daily calls and errors of this MCP server');
    const [p50, p95, p99] = latencies(d);
    const nodes = [
      stats([
        ['Calls', fmtCount(pick(d, 'calls', 'invocations'))], ['Users', fmtCount(pick(d, 'users', 'unique_users'))],
        ['Errors', fmtShare(errShare(d))], ['Timeouts', fmtShare(toShare(d))], ['p50', p50], ['p95', p95], ['p99', p99],
      ]),
      el('div', { className: 'chart h220' }, canvas),
      el('h3', null, 'Tools'),
      tools.length ? el('div', { className: 'scroll' }, table([['Tool'], ['Calls', 1], ['Errors', 1], ['p50', 1], ['p95', 1], ['p99', 1]], tools.map((t) => {
        const [a, b, c] = latencies(t);
        const cells = [td(el('span', { className: 'tname' }, toolName(t))), td(fmtCount(pick(t, 'calls', 'invocations')), { num: true }),
          td(fmtShare(errShare(t)), { num: true }), td(a, { num: true }), td(b, { num: true }), td(c, { num: true })];
        ['Tool', 'Calls', 'Errors', 'p50', 'p95', 'p99'].forEach((l, i) => { cells[i].dataset.label = l; });
        return el('tr', null, ...cells);
      }), { id: 'mcp-tools', className: 'stack' })) : emptyNote('No tool calls.'),
      el('h3', null, 'Error types'),
      types.length ? table([['Class'], ['Type'], ['Count', 1], ['Share', 1]], types.map((t) => el('tr', null,
        td(String(pick(t, 'status', 'class') ?? '—')), td(String(pick(t, 'error_type', 'type') ?? '(no type)'), { className: 'wrap' }),
        td(fmtCount(pick(t, 'count', 'errors')), { num: true }), td(fmtShare(pick(t, 'rate', 'share')), { num: true }))), { id: 'mcp-error-types' })
        : emptyNote('No errors.'),
      el('h3', null, 'Skills whose runs call it'),
      skills.length ? el('ul', { className: 'chips', id: 'mcp-skills' }, ...skills.map((s) => {
        const n = typeof s === 'string' ? s : pick(s, 'skill', 'name');
        const c = typeof s === 'string' ? null : pick(s, 'runs', 'calls', 'count');
        return el('li', null, String(n ?? '?'), c == null ? '' : el('strong', null, ` ${fmtCount(c)}`));
      })) : emptyNote('No skill run called it in this window.'),
    ];
    const after = () => drawDaily('mcpDetail', 'chart-mcp-detail', daily, {
      bars: [{ label: 'Calls', keys: ['calls', 'invocations'], color: 'accent' }, { label: 'Errors', keys: ['errors'], color: 'error' },
        { label: 'Timeouts', keys: ['timeouts'], color: 'timeout' }],
    });
    return { nodes, after, period: pick(d, 'period') };
  });
}
