// Track Skills JavaScript client: wrap a skill, measure it, and report the
// call to a Track Skills server in the background.
//
// Tracking never changes what the wrapped function returns or throws, never
// throws or rejects itself, never blocks the caller on the network, and never
// keeps a Node process alive on its own: timers are unref'd, and the events
// still queued when the event loop empties are sent once (beforeExit).
// No dependencies; runs on Node >= 18 and anywhere with fetch.

const DEFAULT_URL = 'http://127.0.0.1:8080';
const MAX_BATCH = 1000; // the server's limit of events a batch
const MAX_ERROR_MESSAGE = 2048; // the server cuts longer messages anyway
const MAX_ERROR_TYPE = 64; // the server rejects longer error types

/** Reads an environment variable where there is one (Node, Deno, Bun). */
function env(name) {
  try {
    const v = globalThis.process?.env?.[name];
    return v === '' ? undefined : v;
  } catch {
    return undefined; // Deno without --allow-env throws
  }
}

const now = () =>
  typeof globalThis.performance?.now === 'function' ? globalThis.performance.now() : Date.now();

/** Removes control characters, which the server refuses in names and types. */
function clean(s, max) {
  // eslint-disable-next-line no-control-regex
  let out = String(s).replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  if (out.length > max) out = out.slice(0, max);
  return out;
}

/**
 * Describes a thrown value as [status, error_type, error_message].
 * A timeout (TimeoutError from AbortSignal.timeout, ETIMEDOUT) has the
 * status "timeout"; everything else is an "error".
 */
function describeError(err) {
  if (err !== null && (typeof err === 'object' || typeof err === 'function')) {
    const code = typeof err.code === 'string' && err.code !== '' ? err.code : undefined;
    const name = typeof err.name === 'string' && err.name !== '' ? err.name : undefined;
    const type = code ?? name ?? err.constructor?.name ?? 'Error';
    const message = typeof err.message === 'string' ? err.message : '';
    const timeout = name === 'TimeoutError' || code === 'ETIMEDOUT';
    return [timeout ? 'timeout' : 'error', type, message];
  }
  return ['error', typeof err, err === undefined ? '' : String(err)];
}

function resultType(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/**
 * Creates an independent tracker with its own settings and queue. The module's
 * own functions (trackSkillExecution, track, flush, configure, stats) use a
 * default tracker made by this function.
 *
 * Options (all optional; see configure):
 *   url, key, timeoutMs, category, userId, sessionId, source, batchSize,
 *   batchDelayMs, queueSize, maxInFlight, flushOnExit, onError, fetch
 */
export function createTracker(options = {}) {
  const cfg = {
    url: undefined, // TRACKSKILLS_URL, else DEFAULT_URL
    key: undefined, // TRACKSKILLS_KEY
    userId: undefined, // TRACKSKILLS_USER
    sessionId: undefined,
    timeoutMs: 2000,
    category: 'skill',
    source: 'js',
    batchSize: 100,
    batchDelayMs: 50,
    queueSize: 1000,
    maxInFlight: 4,
    flushOnExit: true,
    onError: undefined,
    fetch: undefined, // globalThis.fetch, looked up at each send
  };
  const counts = { sent: 0, failed: 0, rejected: 0, dropped: 0, requests: 0 };
  let queue = [];
  let timer = null;
  const inFlight = new Set();
  let exitHookInstalled = false;

  function report(err) {
    if (typeof cfg.onError !== 'function') return;
    try {
      cfg.onError(err);
    } catch {
      // onError is the user's code: its failure must not escape either.
    }
  }

  function configure(opts = {}) {
    if (opts === null || typeof opts !== 'object') return;
    for (const k of Object.keys(cfg)) {
      if (opts[k] !== undefined) cfg[k] = opts[k];
    }
    cfg.batchSize = Math.min(MAX_BATCH, Math.max(1, Math.floor(Number(cfg.batchSize)) || 100));
    cfg.queueSize = Math.max(1, Math.floor(Number(cfg.queueSize)) || 1000);
    cfg.maxInFlight = Math.max(1, Math.floor(Number(cfg.maxInFlight)) || 4);
    cfg.timeoutMs = Math.max(1, Number(cfg.timeoutMs) || 2000);
    cfg.batchDelayMs = Math.max(0, Number(cfg.batchDelayMs) || 0);
  }

  function baseURL() {
    return String(cfg.url ?? env('TRACKSKILLS_URL') ?? DEFAULT_URL).replace(/\/+$/, '');
  }

  function installExitHook() {
    // Timers are unref'd, so a process whose work is done would exit with
    // events still queued. beforeExit runs when the loop empties: send them
    // once (the request keeps the loop busy for at most timeoutMs); when it
    // has finished the loop empties again with nothing queued, and Node exits.
    if (exitHookInstalled || !cfg.flushOnExit) return;
    const proc = globalThis.process;
    if (typeof proc?.once !== 'function') return;
    exitHookInstalled = true;
    proc.once('beforeExit', () => {
      exitHookInstalled = false;
      if (queue.length > 0) drain(true);
    });
  }

  /** Queues one event object (already in the API's shape). */
  function enqueue(ev) {
    if (queue.length >= cfg.queueSize) {
      const over = queue.length - cfg.queueSize + 1;
      queue.splice(0, over); // drop the oldest
      counts.dropped += over;
    }
    queue.push(ev);
    installExitHook();
    if (queue.length >= cfg.batchSize) {
      drain(false);
    } else if (timer === null) {
      timer = setTimeout(() => {
        timer = null;
        drain(true);
      }, cfg.batchDelayMs);
      timer.unref?.();
    }
  }

  /**
   * Starts requests for queued events, up to maxInFlight at once. With all
   * unset, only full batches leave (the rest waits for the timer).
   */
  function drain(all) {
    if (all && timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    while (queue.length > 0 && inFlight.size < cfg.maxInFlight) {
      if (!all && queue.length < cfg.batchSize) break;
      const batch = queue.splice(0, cfg.batchSize);
      const p = send(batch)
        .catch((err) => {
          // send handles its own failures; this is for the unforeseen.
          counts.failed += batch.length;
          report(err);
        })
        .finally(() => {
          inFlight.delete(p);
          try {
            // Events that waited for a free slot go now, unless the batch
            // timer is still counting and they do not fill a batch.
            if (queue.length >= cfg.batchSize || (queue.length > 0 && timer === null)) drain(true);
          } catch (err) {
            report(err);
          }
        });
      inFlight.add(p);
    }
    if (queue.length > 0 && timer === null && inFlight.size < cfg.maxInFlight) {
      timer = setTimeout(() => {
        timer = null;
        drain(true);
      }, cfg.batchDelayMs);
      timer.unref?.();
    }
  }

  /** Posts one batch; resolves in every case, never rejects. */
  async function send(batch) {
    const single = batch.length === 1;
    const url = baseURL() + (single ? '/api/track' : '/api/track/batch');
    const headers = { 'Content-Type': 'application/json' };
    const key = cfg.key ?? env('TRACKSKILLS_KEY');
    if (key) headers.Authorization = `Bearer ${key}`;
    let body;
    try {
      body = JSON.stringify(single ? batch[0] : batch);
    } catch (err) {
      counts.failed += batch.length;
      report(new Error(`trackskills: encode events: ${err?.message ?? err}`));
      return;
    }
    const f = cfg.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') {
      counts.failed += batch.length;
      report(new Error('trackskills: no fetch in this runtime'));
      return;
    }
    counts.requests++;
    let cancel = () => {};
    let signal;
    if (typeof globalThis.AbortSignal?.timeout === 'function') {
      signal = AbortSignal.timeout(cfg.timeoutMs);
    } else if (typeof AbortController === 'function') {
      const ac = new AbortController();
      const t = setTimeout(() => ac.abort(), cfg.timeoutMs);
      t.unref?.();
      cancel = () => clearTimeout(t);
      signal = ac.signal;
    }
    try {
      const res = await f(url, {
        method: 'POST',
        headers,
        body,
        signal,
        // Lets a browser finish the request after the page is gone (bodies
        // under 64 KiB only).
        keepalive: body.length < 60000,
      });
      let answer = null;
      try {
        answer = await res.json();
      } catch {
        // Not JSON (a proxy's error page): the status says enough.
      }
      if (res.ok) {
        const accepted = single ? 1 : Number(answer?.accepted) || 0;
        counts.sent += accepted;
        const rejected = Array.isArray(answer?.rejected) ? answer.rejected : [];
        counts.rejected += rejected.length;
        for (const r of rejected) {
          report(new Error(`trackskills: event rejected: ${r?.field ? r.field + ' ' : ''}${r?.error}`));
        }
      } else if (res.status === 400) {
        counts.rejected += batch.length;
        report(new Error(`trackskills: HTTP 400: ${answer?.field ? answer.field + ' ' : ''}${answer?.error ?? 'bad event'}`));
      } else {
        counts.failed += batch.length;
        report(new Error(`trackskills: HTTP ${res.status}: ${answer?.error ?? res.statusText}`));
      }
    } catch (err) {
      counts.failed += batch.length;
      report(new Error(`trackskills: send ${batch.length} event(s) to ${url}: ${err?.message ?? err}`, { cause: err }));
    } finally {
      cancel();
    }
  }

  function makeEvent(name, opts) {
    const ev = {
      tool_name: String(name),
      status: opts.status ?? 'success',
      tool_category: opts.category ?? cfg.category,
      source: opts.source ?? cfg.source,
    };
    // No timestamp by default: the server stamps the event when it arrives,
    // at most a batch delay later, and a client clock more than 5 minutes
    // off would otherwise get every event refused.
    if (opts.timestamp instanceof Date) ev.timestamp = opts.timestamp.toISOString();
    else if (typeof opts.timestamp === 'number' || typeof opts.timestamp === 'string') ev.timestamp = opts.timestamp;
    if (opts.durationMs !== undefined && opts.durationMs !== null) {
      const d = Math.round(Number(opts.durationMs));
      if (Number.isFinite(d) && d >= 0) ev.duration_ms = d;
    }
    if (opts.errorType) ev.error_type = clean(opts.errorType, MAX_ERROR_TYPE);
    if (opts.errorMessage) ev.error_message = String(opts.errorMessage).slice(0, MAX_ERROR_MESSAGE);
    if (opts.metadata !== undefined && opts.metadata !== null) ev.metadata = opts.metadata;
    const userId = opts.userId ?? cfg.userId ?? env('TRACKSKILLS_USER');
    if (userId) ev.user_id = String(userId);
    const sessionId = opts.sessionId ?? cfg.sessionId;
    if (sessionId) ev.session_id = String(sessionId);
    if (opts.eventId) ev.event_id = String(opts.eventId);
    return ev;
  }

  /**
   * Records one event by hand. status: "success" (default), "error" or
   * "timeout"; durationMs, category, errorType, errorMessage, metadata (an
   * object), userId, sessionId, eventId, source, timestamp (a Date, Unix ms
   * or an RFC 3339 string; default: when the server receives it).
   * Never throws; the event leaves in the background.
   */
  function track(name, opts = {}) {
    try {
      enqueue(makeEvent(name, opts ?? {}));
    } catch (err) {
      report(err);
    }
  }

  /**
   * Calls fn(params, context), records how it went, and returns what fn
   * returns (awaited) or throws what it throws: the same value, the same
   * error object. Neither params nor the result is sent: only the name, the
   * status, the duration, the error's type and message, and the result's
   * type (metadata.result_type).
   */
  async function trackSkillExecution(name, fn, params, context) {
    const start = now();
    let result;
    try {
      result = await fn(params, context);
    } catch (err) {
      try {
        const [status, errorType, errorMessage] = describeError(err);
        enqueue(makeEvent(name, { status, durationMs: now() - start, errorType, errorMessage }));
      } catch (e) {
        report(e);
      }
      throw err;
    }
    try {
      enqueue(makeEvent(name, { status: 'success', durationMs: now() - start, metadata: { result_type: resultType(result) } }));
    } catch (e) {
      report(e);
    }
    return result;
  }

  /**
   * Sends every queued event now. The promise resolves (never rejects) once
   * they, and the requests already under way, have been sent or have failed.
   */
  async function flush() {
    try {
      while (queue.length > 0 || inFlight.size > 0) {
        drain(true);
        if (inFlight.size > 0) await Promise.all([...inFlight]);
      }
    } catch (err) {
      report(err);
    }
  }

  /** Counts since the tracker was made; queued and inFlight are current. */
  function stats() {
    return { ...counts, queued: queue.length, inFlight: inFlight.size };
  }

  configure(options);
  return { trackSkillExecution, track, flush, configure, stats };
}

const defaultTracker = createTracker();

/**
 * The seed's wrapper: `return trackSkillExecution('my_skill', impl, params, context)`.
 * Returns what impl returns, throws what it throws; reports in the background.
 */
export const trackSkillExecution = defaultTracker.trackSkillExecution;

/** Records an event by hand: track(name, {status, durationMs, ...}). */
export const track = defaultTracker.track;

/** Sends what is queued; resolves once it is sent or has failed. */
export const flush = defaultTracker.flush;

/**
 * Changes settings: {url, key, timeoutMs, category, userId, sessionId, source,
 * batchSize, batchDelayMs, queueSize, maxInFlight, flushOnExit, onError, fetch}.
 * url, key and userId default to TRACKSKILLS_URL, TRACKSKILLS_KEY and
 * TRACKSKILLS_USER, read when an event is made or sent.
 */
export const configure = defaultTracker.configure;

/** Returns {sent, failed, rejected, dropped, requests, queued, inFlight}. */
export const stats = defaultTracker.stats;
