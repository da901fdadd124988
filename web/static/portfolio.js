// portfolio.js: the Portfolio view. The sections of /analytics/portfolio
// (known skills never used, fading, failing, used but never registered,
// MCP servers configured but never called), each row with the fact that
// put it there. It reads an answer of {sections: [{section, title, rows}]}
// or one array per section name. Hooks for tests: data-section on each
// section, data-name on rows.

import { $, el } from './util.js';
import { pick, list, emptyNote } from './views.js';

const root = () => $('#portfolio-body');

// SECTIONS are the known sections, in the order shown, with their title
// and the note shown when they are empty.
const SECTIONS = [
  { key: 'never_used', alias: ['unused'], title: 'Never used', empty: 'Every registered skill was used in this window.' },
  { key: 'fading', alias: [], title: 'Fading', empty: 'No skill lost much of its use against the previous window.' },
  { key: 'failing', alias: [], title: 'Failing', empty: 'No skill fails often enough to list.' },
  { key: 'unregistered', alias: ['used_unregistered', 'used_not_registered', 'never_registered', 'used_but_never_registered'], title: 'Used but never registered', empty: 'Every skill used was registered by a scan.' },
  { key: 'mcp_never_called', alias: ['mcp_unused', 'mcp_servers_never_called', 'mcp_servers', 'unused_mcp_servers'], title: 'MCP servers never called', empty: 'Every MCP server a scan registered was called.' },
  { key: 'plugins_unused', alias: [], title: 'Plugins loaded but never used', empty: 'No plugin Claude Code reported loading went unused (plugins come from its telemetry).' },
];

const known = (k) => SECTIONS.find((s) => s.key === k || s.alias.includes(k));

// sectionsOf normalizes an answer to [{key, title, rows}].
export function sectionsOf(res) {
  let raw = [];
  if (Array.isArray(res?.sections)) {
    raw = res.sections.map((s) => ({ key: String(pick(s, 'section', 'key', 'id', 'kind', 'name') ?? ''), title: pick(s, 'title', 'label'), rows: list(s, 'rows', 'items', 'skills', 'servers') }));
  } else if (res && typeof res === 'object') {
    raw = Object.entries(res).filter(([, v]) => Array.isArray(v)).map(([key, rows]) => ({ key, rows }));
  }
  const out = SECTIONS.map((s) => {
    const got = raw.find((r) => known(r.key) === s);
    return { key: s.key, title: got?.title || s.title, empty: s.empty, rows: got?.rows || [], present: !!got };
  }).filter((s) => s.present || raw.length === 0);
  for (const r of raw) {
    if (!known(r.key)) out.push({ key: r.key, title: r.title || r.key.replace(/_/g, ' '), empty: 'Nothing here.', rows: r.rows, present: true });
  }
  return out;
}

function rowNode(r) {
  const name = typeof r === 'string' ? r : pick(r, 'name', 'skill', 'server', 'mcp_server') ?? '?';
  const fact = typeof r === 'string' ? '' : pick(r, 'fact', 'reason', 'why', 'detail') ?? '';
  const reg = typeof r === 'object' ? r.registered : null;
  const where = reg && typeof reg === 'object' ? [reg.source, reg.plugin].filter(Boolean).join(' · ') : '';
  const li = el('li', null, el('span', { className: 'pname', title: String(name) }, String(name)), el('span', { className: 'fact' }, String(fact)),
    where ? el('span', { className: 'muted where' }, where) : null);
  if (reg?.description) li.title = String(reg.description);
  li.dataset.name = String(name);
  return li;
}

// load draws the view for the window w; returns 'ready' or 'empty'.
export async function load({ get, w }) {
  const res = await get('/analytics/portfolio', w);
  const sections = sectionsOf(res);
  const total = sections.reduce((n, s) => n + s.rows.length, 0);
  const nodes = sections.map((s) => {
    const sec = el('section', { className: 'psection' },
      el('h3', null, s.title, ' ', el('span', { className: 'muted' }, String(s.rows.length))),
      s.rows.length ? el('ul', { className: 'prows' }, ...s.rows.map(rowNode)) : emptyNote(s.empty));
    sec.dataset.section = s.key;
    return sec;
  });
  // Before any scan, only "used but never registered" can have rows: say
  // where the inventory comes from.
  const noScan = +pick(res, 'known_skills') === 0 && +(pick(res, 'known_mcp_servers') ?? 0) === 0;
  if (noScan || !total) {
    const note = emptyNote(noScan ? 'No scan has registered a skill or an MCP server yet: run ' : 'Nothing to report in this window. Skills and MCP servers are registered by ');
    note.append(el('code', null, 'trackskills skills scan'), noScan ? ', or let the Claude Code hook run it at session start (' : ', which the Claude Code hook runs at session start (',
      el('code', null, 'trackskills hook install'), ').');
    note.classList.add('scan-hint');
    nodes.unshift(note);
  }
  root().replaceChildren(...nodes);
  if (!total) return 'empty';
  return 'ready';
}
