// pipeline.js: the pipeline strip at the top of the dashboard. It reads
// /analytics/pipeline every few seconds and shows the consumer lag, the
// last event written, events per second and the dead letters, each
// coloured by its state (ok / amber / red), with the server's lines of
// what to do. data-state on #pipeline tells the tests where it is. Every
// string goes into the page as text.

import { $, el, setText, fmtNum } from './util.js';
import { ts, api, keyDialogOpen } from './api.js';

export const PIPELINE_MS = 5000;

const STATES = ['ok', 'amber', 'red'];
const LABEL = { ok: 'Pipeline ok', amber: 'Pipeline: needs a look', red: 'Pipeline: action needed', unknown: 'Pipeline: unknown' };
const nf1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const dtFull = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

const known = (s) => (STATES.includes(s) ? s : 'unknown');

// fmtSecs: "0.4 s", "42 s", "3 min", "5 h", "2 d".
function fmtSecs(s) {
  if (s == null || Number.isNaN(+s)) return '—';
  s = +s;
  if (s < 10) return `${nf1.format(s)} s`;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

// fmtRate: "12.5/s", or per minute below one a second ("3/min").
function fmtRate(eps) {
  eps = +eps || 0;
  if (eps === 0) return '0/s';
  if (eps >= 1) return `${nf1.format(eps)}/s`;
  return `${nf1.format(eps * 60)}/min`;
}

function figure(id, state, text, title) {
  const e = $(`#pipe-${id}`);
  e.dataset.state = known(state);
  setText(e.querySelector('.pipe-value'), text);
  e.title = title || '';
}

// drawPipeline shows one answer of /analytics/pipeline.
export function drawPipeline(p) {
  ts.pipeline = p;
  const strip = $('#pipeline');
  strip.hidden = false;
  strip.dataset.state = known(p.state);
  setText('#pipe-state', LABEL[known(p.state)]);

  const lag = p.lag || {};
  if (lag.source === 'stream') {
    const waiting = lag.events || 0;
    const text = waiting === 0 ? 'none waiting' : `${fmtNum(waiting)} waiting, oldest ${fmtSecs(lag.seconds)}`;
    figure('lag', lag.state, text, lag.note || `messages of the stream not yet in SQLite (consumer ${lag.consumer || '?'})`);
  } else {
    figure('lag', lag.state, 'unknown without NATS', lag.note || '');
  }

  const last = p.last_event || {};
  figure('last', last.state, last.received_at_ms ? `${fmtSecs(last.age_seconds)} ago` : 'none yet',
    last.received_at_ms ? dtFull.format(new Date(last.received_at_ms)) : 'no event stored yet');

  const rate = p.rate || {};
  figure('rate', rate.state, fmtRate(rate.events_per_second),
    `events written per second over the last ${fmtSecs(rate.window_seconds)}`);

  const dead = p.dead_letters || {};
  figure('dead', dead.state, fmtNum(dead.count || 0),
    dead.newest_at_ms ? `newest ${dtFull.format(new Date(dead.newest_at_ms))}` : 'stream messages that could not be decoded');

  const actions = Array.isArray(p.actions) ? p.actions : [];
  $('#pipe-actions').replaceChildren(...actions.map((a) => el('li', null, String(a))));
}

function drawFailure(message) {
  const strip = $('#pipeline');
  strip.hidden = false;
  strip.dataset.state = 'unknown';
  setText('#pipe-state', LABEL.unknown);
  $('#pipe-actions').replaceChildren(el('li', null, `Could not read the pipeline's health: ${message}`));
}

let busy = false;

async function poll() {
  if (busy || document.hidden || keyDialogOpen()) return;
  busy = true;
  try {
    drawPipeline(await api('/analytics/pipeline'));
  } catch (e) {
    drawFailure(e.message || String(e));
  } finally {
    busy = false;
  }
}

// startPipeline reads the pipeline now, then every PIPELINE_MS while the
// tab is visible.
export function startPipeline() {
  poll();
  setInterval(poll, PIPELINE_MS);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });
}
