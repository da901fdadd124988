// Tests of the JavaScript client against a real Track Skills server.
//
//   TRACKSKILLS_TEST_URL=http://127.0.0.1:8080 node --test
//
// Without TRACKSKILLS_TEST_URL the tests that need a server are skipped.
// Events are read back from GET /analytics/export.ndjson.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

import { createTracker, trackSkillExecution, configure, flush, stats } from '../index.js';

const SERVER = process.env.TRACKSKILLS_TEST_URL?.replace(/\/+$/, '');
const needServer = { skip: SERVER ? false : 'TRACKSKILLS_TEST_URL is not set' };
const INDEX = fileURLToPath(new URL('../index.js', import.meta.url));

let unhandled = 0;
process.on('unhandledRejection', () => {
  unhandled++;
});

/** Returns a tool name no other test or run uses. */
function uniqueName(label) {
  return `js_${label}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Returns the stored events of one tool (this clock hour and the one before). */
async function exported(name) {
  const res = await fetch(`${SERVER}/analytics/export.ndjson?hours=2&tool=${encodeURIComponent(name)}`);
  assert.equal(res.status, 200, `export answered ${res.status}`);
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

/** Polls the export until it holds at least n events of the tool (10 s at most). */
async function waitForEvents(name, n = 1) {
  const deadline = Date.now() + 10_000;
  let events = [];
  while (Date.now() < deadline) {
    events = await exported(name);
    if (events.length >= n) return events;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${events.length} event(s) of ${JSON.stringify(name)} stored within 10 s, want ${n}`);
}

/** Returns a URL where nothing listens. */
async function closedURL() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return `http://127.0.0.1:${port}`;
}

/** Wraps fetch, counting the requests and keeping their URLs and headers. */
function countingFetch() {
  const calls = [];
  const f = (url, init) => {
    calls.push({ url: String(url), headers: { ...init?.headers } });
    return fetch(url, init);
  };
  return { f, calls };
}

test('success: returns what fn returns, and the event arrives', needServer, async () => {
  const name = uniqueName('ok');
  const tr = createTracker({ url: SERVER });
  const params = { query: 'secret params' };
  const context = { apiBaseUrl: 'http://skill.example' };
  const value = { data: [1, 2, 3] };

  const got = await tr.trackSkillExecution(
    name,
    async (p, c) => {
      assert.equal(p, params);
      assert.equal(c, context);
      await new Promise((r) => setTimeout(r, 20));
      return value;
    },
    params,
    context,
  );
  assert.equal(got, value, 'the very object fn returned');
  // A synchronous fn works the same way.
  assert.equal(await tr.trackSkillExecution(name, () => 7), 7);
  await tr.flush();

  const events = await waitForEvents(name, 2);
  assert.equal(events.length, 2);
  const slow = events.find((e) => e.metadata?.result_type === 'object');
  assert.ok(slow, `no event with result_type object in ${JSON.stringify(events)}`);
  assert.equal(slow.status, 'success');
  assert.equal(slow.source, 'js');
  assert.equal(slow.tool_category, 'skill');
  assert.ok(slow.duration_ms >= 15 && slow.duration_ms < 5000, `duration_ms ${slow.duration_ms}`);
  assert.equal(slow.error_type, null);
  for (const e of events) {
    // Neither params nor the result leave the process.
    assert.doesNotMatch(JSON.stringify(e), /secret params|skill\.example|\[1,2,3\]/);
  }
  assert.ok(events.some((e) => e.metadata?.result_type === 'number'));
  assert.equal(tr.stats().sent, 2);
});

test('error: rethrows the same error object and records type and message', needServer, async () => {
  const name = uniqueName('err');
  const tr = createTracker({ url: SERVER });
  const err = new TypeError('bad input "x"\nline 2');
  await assert.rejects(
    tr.trackSkillExecution(name, async () => {
      throw err;
    }),
    (e) => e === err,
  );
  // A synchronous throw, with a string code: the code is the type.
  const coded = Object.assign(new Error('no such file'), { code: 'ENOENT' });
  await assert.rejects(
    tr.trackSkillExecution(name, () => {
      throw coded;
    }),
    (e) => e === coded,
  );
  // A timeout is recorded as such.
  const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
  await assert.rejects(
    tr.trackSkillExecution(name, () => Promise.reject(timeout)),
    (e) => e === timeout,
  );
  await tr.flush();

  const events = await waitForEvents(name, 3);
  const byType = Object.fromEntries(events.map((e) => [e.error_type, e]));
  assert.equal(byType.TypeError?.status, 'error');
  assert.equal(byType.TypeError?.error_message, 'bad input "x"\nline 2');
  assert.equal(byType.ENOENT?.status, 'error');
  assert.equal(byType.ENOENT?.error_message, 'no such file');
  assert.equal(byType.TimeoutError?.status, 'timeout');
  for (const e of events) assert.equal(typeof e.duration_ms, 'number');
});

test('burst: 50 calls leave in few requests and all arrive', needServer, async () => {
  const name = uniqueName('burst');
  const { f, calls } = countingFetch();
  const tr = createTracker({ url: SERVER, fetch: f });

  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => tr.trackSkillExecution(name, async () => i)),
  );
  assert.deepEqual(
    results,
    Array.from({ length: 50 }, (_, i) => i),
  );
  await tr.flush();
  assert.ok(calls.length >= 1 && calls.length <= 3, `${calls.length} requests for 50 events`);
  assert.ok(calls.every((c) => c.url.endsWith('/api/track/batch')), JSON.stringify(calls.map((c) => c.url)));
  const s = tr.stats();
  assert.equal(s.sent, 50);
  assert.equal(s.queued, 0);
  assert.equal(s.inFlight, 0);

  const events = await waitForEvents(name, 50);
  assert.equal(events.length, 50);
});

test('a single event goes to /api/track with the key', needServer, async () => {
  const name = uniqueName('single');
  const { f, calls } = countingFetch();
  const tr = createTracker({ url: `${SERVER}/`, key: 'k-123', fetch: f, userId: 'alice' });
  tr.track(name, { status: 'timeout', durationMs: 1234.4, category: 'manual', metadata: { n: 1 } });
  await tr.flush();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, `${SERVER}/api/track`);
  assert.equal(calls[0].headers.Authorization, 'Bearer k-123');
  const [ev] = await waitForEvents(name);
  assert.equal(ev.status, 'timeout');
  assert.equal(ev.duration_ms, 1234);
  assert.equal(ev.tool_category, 'manual');
  assert.deepEqual(ev.metadata, { n: 1 });
  assert.notEqual(ev.user_id_hash, '');
});

test('names with quotes, backslashes and unicode arrive intact', needServer, async () => {
  const tr = createTracker({ url: SERVER });
  const suffix = uniqueName('');
  const names = [
    `quote"d ${suffix}`,
    `back\\slash ${suffix}`,
    `ünïcödé 🚀 日本語 ${suffix}`,
    `","status":"error ${suffix}`,
    `<script>alert(1)</script> ${suffix}`,
  ];
  await Promise.all(names.map((n) => tr.trackSkillExecution(n, () => 'ok')));
  await tr.flush();
  for (const n of names) {
    const [ev] = await waitForEvents(n);
    assert.equal(ev.tool_name, n);
    assert.equal(ev.status, 'success');
  }
});

test('server down: the result is unaffected, nothing throws, and it is fast', async () => {
  const errors = [];
  const tr = createTracker({ url: await closedURL(), onError: (e) => errors.push(e) });
  const before = unhandled;
  const t0 = performance.now();
  assert.equal(await tr.trackSkillExecution('down', async () => 42), 42);
  const boom = new RangeError('boom');
  await assert.rejects(
    tr.trackSkillExecution('down', () => {
      throw boom;
    }),
    (e) => e === boom,
  );
  assert.ok(performance.now() - t0 < 250, 'the calls waited for the network');
  tr.track('down');
  await tr.flush();
  assert.ok(performance.now() - t0 < 2500, `flush took ${performance.now() - t0} ms`);
  await new Promise((r) => setImmediate(r));
  assert.equal(unhandled, before, 'unhandled rejection');
  assert.equal(tr.stats().failed, 3);
  assert.ok(errors.length >= 1);
});

test('a server that never answers is cut off after timeoutMs', async () => {
  const sockets = new Set();
  const srv = http.createServer(() => {}); // never answers
  srv.on('connection', (s) => sockets.add(s));
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const tr = createTracker({ url: `http://127.0.0.1:${srv.address().port}`, timeoutMs: 200 });
    const t0 = performance.now();
    assert.equal(await tr.trackSkillExecution('hang', () => 'fine'), 'fine');
    await tr.flush();
    const took = performance.now() - t0;
    assert.ok(took >= 150 && took < 2000, `flush took ${took} ms`);
    assert.equal(tr.stats().failed, 1);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => srv.close(r));
  }
});

test('the queue is bounded: the oldest events are dropped and counted', async () => {
  const tr = createTracker({ url: await closedURL(), queueSize: 10, batchDelayMs: 60_000 });
  for (let i = 0; i < 25; i++) tr.track(`q${i}`);
  assert.equal(tr.stats().queued, 10);
  assert.equal(tr.stats().dropped, 15);
  await tr.flush();
  assert.equal(tr.stats().queued, 0);
  assert.equal(tr.stats().failed, 10);
});

test('the module functions use a default tracker', needServer, async () => {
  const name = uniqueName('default');
  configure({ url: SERVER });
  assert.equal(await trackSkillExecution(name, async (p) => p.n * 2, { n: 21 }), 42);
  await flush();
  assert.equal(stats().sent, 1);
  const [ev] = await waitForEvents(name);
  assert.equal(ev.status, 'success');
});

/** Runs a module script in a child node; resolves with its exit code and time. */
function runChild(code, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('exit', (status) => {
      clearTimeout(kill);
      resolve({ status, ms: performance.now() - t0 });
    });
  });
}

test('a process that ends without flush still sends its events, and exits', needServer, async () => {
  const name = uniqueName('exit');
  const code = `
    import { trackSkillExecution } from ${JSON.stringify(INDEX)};
    const v = await trackSkillExecution(process.env.NAME, async () => 'done');
    if (v !== 'done') process.exit(3);
  `;
  const { status, ms } = await runChild(code, { TRACKSKILLS_URL: SERVER, NAME: name });
  assert.equal(status, 0);
  assert.ok(ms < 5000, `child took ${ms} ms`);
  const [ev] = await waitForEvents(name);
  assert.equal(ev.status, 'success');
});

test('a server that never answers does not keep the process alive', async () => {
  const sockets = new Set();
  const srv = http.createServer(() => {});
  srv.on('connection', (s) => sockets.add(s));
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const code = `
      import { trackSkillExecution, configure } from ${JSON.stringify(INDEX)};
      configure({ timeoutMs: 300 });
      await trackSkillExecution('hang', async () => 1);
    `;
    const { status, ms } = await runChild(code, { TRACKSKILLS_URL: `http://127.0.0.1:${srv.address().port}` });
    assert.equal(status, 0);
    assert.ok(ms < 3000, `child took ${ms} ms`);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => srv.close(r));
  }
});
