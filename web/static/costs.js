// costs.js: the Costs view. Model requests from /analytics/costs (Claude
// Code's telemetry and imported transcripts): the window's cost, requests
// and tokens, then the cost by skill, MCP server and model, each with its
// share, and the attribution rules the server states. A name Claude Code
// redacted is marked, with the setting that reveals it. Below, coverage
// from /analytics/coverage: what each source (hook, telemetry, import)
// reported, the sessions without the hook, the redacted names received.
// Hooks for tests: data-breakdown on each table, data-name on rows,
// data-source on coverage rows.

import { $, el, fmtNum } from './util.js';
import { list, td, table, emptyNote, stats } from './views.js';
import { redactedNote } from './names.js';

const root = () => $('#costs-body');

// fmtUSD formats dollars: cents above a dollar, four decimals below.
export function fmtUSD(v) {
  if (v == null || Number.isNaN(+v)) return '—';
  const n = +v;
  return `$${n >= 1 || n === 0 ? n.toFixed(2) : n.toFixed(4)}`;
}

const BREAKDOWNS = [
  { key: 'by_skill', title: 'By skill', col: 'Skill', none: '(no skill)' },
  { key: 'by_mcp_server', title: 'By MCP server', col: 'MCP server', none: '(no MCP server)' },
  { key: 'by_model', title: 'By model', col: 'Model', none: '(no model)' },
];

// REVEAL says what shows a redacted name.
const REVEAL = 'Claude Code sent a placeholder for this name. Set OTEL_LOG_TOOL_DETAILS=1 in its telemetry settings to see user skill and MCP names; third-party plugin skills stay redacted on model requests.';

function nameCell(e, none) {
  const name = e.unattributed ? none : String(e.name ?? '');
  const c = td(el('span', { className: e.unattributed ? 'tname muted' : 'tname', title: name }, name), { className: 'name' });
  if (e.redacted) c.append(' ', el('span', { className: 'badge', title: redactedNote(name) || REVEAL }, 'redacted'));
  return c;
}

function breakdown(b, entries) {
  const perRun = b.key === 'by_skill';
  const rows = entries.map((e) => {
    const cells = [nameCell(e, b.none), td(fmtUSD(e.cost_usd), { num: true }), td(`${(+e.cost_share || 0).toFixed(1)}%`, { num: true }),
      td(fmtNum(e.requests), { num: true }), td(fmtNum(e.input_tokens), { num: true }), td(fmtNum(e.output_tokens), { num: true })];
    const labels = [b.col, 'Cost', 'Share', 'Requests', 'Input tokens', 'Output tokens'];
    if (perRun) {
      cells.push(td(e.cost_per_run_usd == null ? '—' : fmtUSD(e.cost_per_run_usd), { num: true, title: e.runs ? `${fmtNum(e.runs)} runs` : '' }));
      labels.push('Per run');
    }
    labels.forEach((l, i) => { cells[i].dataset.label = l; });
    const tr = el('tr', null, ...cells);
    tr.dataset.name = e.unattributed ? '' : String(e.name ?? '');
    return tr;
  });
  const cols = [[b.col], ['Cost', 1], ['Share', 1], ['Requests', 1], ['Input tokens', 1], ['Output tokens', 1]];
  if (perRun) cols.push(['Per run', 1]);
  const t = table(cols, rows, { className: 'stack' });
  t.dataset.breakdown = b.key;
  return el('section', { className: 'psection' }, el('h3', null, b.title), el('div', { className: 'scroll' }, t));
}

// coverage builds the coverage section, or null when no source reported
// a call.
function coverage(cov) {
  const sources = list(cov?.sources || []);
  if (!sources.length) return null;
  const rows = sources.map((r) => {
    const cells = [td(el('span', { className: 'tname' }, String(r.source ?? '')), { className: 'name' }), td(fmtNum(r.calls_seen), { num: true }),
      td(fmtNum(r.calls_stored), { num: true }), td(`${(+r.shared_share || 0).toFixed(1)}%`, { num: true })];
    ['Source', 'Calls seen', 'Stored first', 'Seen by another too'].forEach((l, i) => { cells[i].dataset.label = l; });
    const tr = el('tr', null, ...cells);
    tr.dataset.source = String(r.source ?? '');
    return tr;
  });
  const t = table([['Source'], ['Calls seen', 1], ['Stored first', 1], ['Seen by another too', 1]], rows, { className: 'stack', id: 'coverage-table' });
  const notes = [];
  if (+cov.sessions_without_hook > 0) {
    notes.push(el('p', { className: 'muted', id: 'coverage-nohook' }, `${fmtNum(cov.sessions_without_hook)} sessions sent telemetry but no hook event: the hook may be missing on those machines (trackskills hook install).`));
  }
  const red = list(cov.redacted || []);
  if (red.length) {
    notes.push(el('p', { className: 'muted', id: 'coverage-redacted' }, `Redacted names received: ${red.map((r) => `${r.name} ×${fmtNum(r.count)}`).join(', ')}. Set ${cov.reveal_setting || 'OTEL_LOG_TOOL_DETAILS=1'} to see them.`));
  }
  return el('section', { className: 'psection' }, el('h3', null, 'Coverage by source'), el('div', { className: 'scroll' }, t), ...notes);
}

// load draws the view for the window w; returns 'ready' or 'empty'.
export async function load({ get, w }) {
  const [res, cov] = await Promise.all([get('/analytics/costs', w), get('/analytics/coverage', w)]);
  const tot = res?.totals || {};
  const covNode = coverage(cov);
  if (!tot.requests) {
    const note = emptyNote('No model requests in this window. Costs come from Claude Code\'s telemetry: point its OTLP exporter at this server (');
    note.append(el('code', null, 'OTEL_EXPORTER_OTLP_ENDPOINT'), ', ', el('code', null, 'OTEL_LOGS_EXPORTER=otlp'), '; see the README, "Claude Code telemetry").');
    root().replaceChildren(note, ...(covNode ? [covNode] : []));
    return 'empty';
  }
  const nodes = [stats([
    ['Cost', fmtUSD(tot.cost_usd)],
    ['Requests', fmtNum(tot.requests)],
    ['Failed', fmtNum(tot.failed)],
    ['Input tokens', fmtNum(tot.input_tokens)],
    ['Output tokens', fmtNum(tot.output_tokens)],
    ['Cache reads', fmtNum(tot.cache_read_tokens)],
  ])];
  nodes[0].id = 'costs-totals';
  for (const b of BREAKDOWNS) nodes.push(breakdown(b, list(res?.[b.key] || [])));
  const rules = list(res?.attribution || []);
  if (rules.length) {
    nodes.push(el('details', { className: 'attribution' }, el('summary', null, 'How requests are attributed'),
      el('ul', null, ...rules.map((r) => el('li', null, String(r))))));
  }
  if (covNode) nodes.push(covNode);
  root().replaceChildren(...nodes);
  return 'ready';
}
