// names.js: how tool names are shown. An MCP tool, mcp__<server>__<tool>,
// reads "server · tool" (split as the server splits it: on the first "__"
// and the last, since server names may hold "__"); the full name stays in
// a tooltip. Long names are shortened in the middle, never hiding their end.
// A placeholder Claude Code's telemetry sends for a hidden name says so in
// its tooltip, with the setting that reveals it.

// splitMCP returns {server, tool} of an MCP tool name, or null.
export function splitMCP(name) {
  const s = name == null ? '' : String(name);
  if (!s.startsWith('mcp__') || s.length === 5) return null;
  const rest = s.slice(5);
  const i = rest.lastIndexOf('__');
  if (i <= 0) return { server: rest, tool: '' };
  return { server: rest.slice(0, i), tool: rest.slice(i + 2) };
}

// toolLabel is the name as shown: "server · tool" for MCP tools.
export function toolLabel(name) {
  const m = splitMCP(name);
  if (!m) return name == null ? '' : String(name);
  return m.tool ? `${m.server} · ${m.tool}` : m.server;
}

// shorten keeps both ends of s within n characters ("github · cre…_issue").
export function shorten(s, n) {
  s = s == null ? '' : String(s);
  if (s.length <= n) return s;
  const tail = Math.ceil((n - 1) / 2);
  return s.slice(0, n - 1 - tail) + '…' + s.slice(s.length - tail);
}

// shortLabel is toolLabel(name) within n characters: an MCP name keeps a
// part of both the server and the tool ("github · get_…request").
export function shortLabel(name, n) {
  const m = splitMCP(name);
  const full = toolLabel(name);
  if (!m || !m.tool || full.length <= n) return shorten(full, n);
  const sn = Math.min(m.server.length, Math.max(4, Math.floor(n / 3)));
  return `${shorten(m.server, sn)} · ${shorten(m.tool, Math.max(4, n - sn - 3))}`;
}

// REDACTED are the placeholders of Claude Code's telemetry, and what they
// hide.
const REDACTED = {
  custom_skill: 'a skill',
  mcp_tool: 'an MCP tool',
  'third-party': "a third-party plugin's skill",
  custom: 'a custom name',
};

// redactedNote is the tooltip of a placeholder, '' for a real name.
export function redactedNote(name) {
  const what = Object.hasOwn(REDACTED, name) ? REDACTED[name] : '';
  if (!what) return '';
  if (name === 'third-party') return `Claude Code's telemetry hid the name of ${what} here; it stays hidden on model requests, even with OTEL_LOG_TOOL_DETAILS=1`;
  return `Claude Code's telemetry hid the name of ${what} here: set OTEL_LOG_TOOL_DETAILS=1 to see it`;
}

// nameNode is a span showing toolLabel(name), its title the full name.
export function nameNode(name, tag = 'span') {
  const e = document.createElement(tag);
  e.className = 'tname';
  e.textContent = toolLabel(name);
  e.title = redactedNote(name) || (name == null ? '' : String(name));
  if (splitMCP(name)) e.dataset.mcp = '1';
  if (e.title !== String(name ?? '')) e.dataset.redacted = '1';
  return e;
}
