// The event store over HTTP (seed scenario 4), run by crates/cli/tests/e2e.rs::event_store_*:
// appends with optimistic concurrency and idempotency, immutability, the global feed under
// concurrent appends, snapshots, projections (replay, a processor killed mid-batch, two
// instances), and the outbox to NATS JetStream. The instance at BASE_URL serves HTTP only
// (EVENT_PROCESSORS=off); the suite starts and kills processor instances itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { connect } from 'nats';
import pg from 'pg';
import { call, db, expectError, expectStatus, uuid } from './lib.mjs';

const PROJECT_DIR = process.env.PROJECT_DIR;
const APP_ENV = JSON.parse(process.env.APP_ENV_JSON ?? '{}');
const SNAPSHOT_EVERY = Number(process.env.SNAPSHOT_EVERY ?? 5);
const PASSWORD = 'correct horse battery staple 42';

let sql;
let tok;
let me;
const workers = new Set();
/** Every event appended by this suite, by id. */
const appended = new Map();

const auth = (extra = {}) => ({ headers: { authorization: `Bearer ${tok}`, ...extra } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function append(stream, body, headers = {}, status = 201) {
  const r = expectStatus(await call('POST', `/events/${stream}/events`, body, auth(headers)), status, `append to ${stream}`);
  for (const e of r.body.data) appended.set(e.id, e);
  return r;
}

/** Start an instance of the app (a processor worker); resolves once it listens. */
function startWorker(env = {}) {
  const child = spawn('node', ['dist/main.js'], {
    cwd: PROJECT_DIR,
    env: { ...process.env, ...APP_ENV, PORT: '0', HOST: '127.0.0.1', EVENT_PROCESSORS: 'on', EVENT_POLL_MS: '200', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.add(child);
  child.on('exit', () => workers.delete(child));
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`worker did not start: ${log}`)), 60_000);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (/listening on/.test(out)) {
        clearTimeout(t);
        resolve(child);
      }
    });
    child.on('exit', (code) => reject(new Error(`worker exited ${code}: ${out}${log}`)));
  });
}

function stop(child, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

async function processors() {
  return expectStatus(await call('GET', '/events/processors', undefined, auth()), 200, 'processors').body.data;
}

/** Wait until every known processor's checkpoint is the last event of the feed. */
async function caughtUp(names = ['user_summary', 'nats-outbox'], timeoutMs = 60_000) {
  const last = (await sql.query('SELECT event_id::text AS id FROM nestgen.event_log ORDER BY tx DESC, seq DESC LIMIT 1')).rows[0]?.id;
  const started = Date.now();
  for (;;) {
    const ps = await processors();
    if (names.every((n) => ps.find((p) => p.name === n)?.lastEventId === last)) return ps;
    if (Date.now() - started > timeoutMs) assert.fail(`processors did not catch up with ${last}: ${JSON.stringify(ps)}`);
    await sleep(100);
  }
}

async function summary(user) {
  const r = await sql.query(
    'SELECT user_id::text, email, name, total_orders, total_spent::text, last_order_at, last_event_version FROM user_summary WHERE user_id = $1',
    [user],
  );
  return r.rows[0];
}

before(async () => {
  sql = await db();
  const email = `es-${uuid()}@example.com`;
  me = expectStatus(await call('POST', '/auth/register', { email, password: PASSWORD, name: 'Eve' }), 201, 'register').body.data;
  tok = expectStatus(await call('POST', '/auth/login', { email, password: PASSWORD }), 200, 'login').body.accessToken;
});

after(async () => {
  for (const w of [...workers]) await stop(w, 'SIGKILL');
  await sql?.end();
});

test('appends: versions, ETag, If-Match, the actor, causation and correlation from the headers', async () => {
  const s = uuid();
  const correlation = uuid();
  const causation = uuid();
  const r = await append(
    s,
    {
      aggregateType: 'User',
      expectedVersion: 0,
      events: [
        { type: 'user.created', data: { email: 'ann@example.com', name: 'Ann' } },
        { type: 'user.renamed', data: { name: 'Anne' } },
      ],
    },
    { 'x-correlation-id': correlation, 'x-causation-id': causation },
  );
  assert.equal(r.headers.get('etag'), '"2"');
  assert.deepEqual(r.body.meta, { aggregateId: s, version: 2, replayed: false });
  const [a, b] = r.body.data;
  assert.deepEqual([a.version, b.version], [1, 2]);
  assert.equal(a.actorId, me.id, 'the signed-in user');
  assert.equal(a.actorType, 'user');
  assert.equal(a.correlationId, correlation);
  assert.equal(a.causationId, causation);
  assert.equal(a.aggregateType, 'User');
  // A stale version: 409 with the current one; If-Match works like expectedVersion.
  const stale = expectError(
    await call('POST', `/events/${s}/events`, { expectedVersion: 1, events: [{ type: 'x', data: {} }] }, auth()),
    409,
    'stale',
  );
  assert.equal(stale.body.details.currentVersion, 2);
  expectError(
    await call('POST', `/events/${s}/events`, { events: [{ type: 'x', data: {} }] }, auth({ 'if-match': '"1"' })),
    409,
    'stale If-Match',
  );
  await append(s, { events: [{ type: 'user.renamed', data: { name: 'Anna' } }] }, { 'if-match': '"2"' });
  // The stream's kind is its own; a new stream needs one (the column is NOT NULL).
  expectError(
    await call('POST', `/events/${s}/events`, { aggregateType: 'Order', events: [{ type: 'x', data: {} }] }, auth()),
    409,
    'another kind',
  );
  expectError(
    await call('POST', `/events/${uuid()}/events`, { events: [{ type: 'x', data: {} }] }, auth()),
    400,
    'a new stream without its kind',
  );
  expectError(
    await call('POST', '/events/not-a-uuid/events', { aggregateType: 'User', events: [{ type: 'x', data: {} }] }, auth()),
    400,
    'malformed stream id',
  );
  expectError(await call('POST', `/events/${s}/events`, { events: [] }, auth()), 400, 'no events');
  expectError(await call('POST', `/events/${s}/events`, { events: [{ type: 'x', data: {}, extra: 1 }] }, auth()), 400, 'unknown field');
  expectError(await call('POST', `/events/${s}/events`, { events: [{ type: 'x', data: {} }] }), 401, 'signed out');
  // Reading: the stream in order, a range, paging, the state folded from the events.
  const all = expectStatus(await call('GET', `/events/${s}/events`, undefined, auth()), 200, 'stream').body;
  assert.deepEqual(
    all.data.map((e) => e.version),
    [1, 2, 3],
  );
  assert.equal(all.meta.version, 3);
  const page = expectStatus(await call('GET', `/events/${s}/events?fromVersion=2&limit=1`, undefined, auth()), 200, 'page').body;
  assert.deepEqual([page.data.map((e) => e.version), page.meta.nextFromVersion], [[2], 3]);
  const state = expectStatus(await call('GET', `/events/${s}/state`, undefined, auth()), 200, 'state');
  assert.deepEqual(state.body.data.state, { email: 'ann@example.com', name: 'Anna' });
  assert.equal(state.headers.get('etag'), '"3"');
  const earlier = expectStatus(await call('GET', `/events/${s}/state?version=1`, undefined, auth()), 200, 'state at 1').body.data;
  assert.deepEqual([earlier.version, earlier.state.name], [1, 'Ann']);
  expectError(await call('GET', `/events/${uuid()}/events`, undefined, auth()), 404, 'no such stream');
});

test('fifty appenders racing on one stream: gapless versions, every loser gets 409, no duplicate', async () => {
  const s = uuid();
  await append(s, { aggregateType: 'Order', expectedVersion: 0, events: [{ type: 'order.opened', data: {} }] });
  let conflicts = 0;
  const appender = async (i) => {
    for (let tries = 0; tries < 500; tries++) {
      const head = expectStatus(await call('GET', `/events/${s}/events?fromVersion=1&limit=1`, undefined, auth()), 200, 'head').body.meta
        .version;
      const r = await call('POST', `/events/${s}/events`, { expectedVersion: head, events: [{ type: 'order.line', data: { i } }] }, auth());
      if (r.status === 201) {
        assert.equal(r.body.data[0].version, head + 1);
        for (const e of r.body.data) appended.set(e.id, e);
        return;
      }
      assert.equal(r.status, 409, r.text);
      assert.ok(r.body.details.currentVersion > head, 'the current version is past the one expected');
      conflicts++;
    }
    assert.fail(`appender ${i} never got through`);
  };
  await Promise.all(Array.from({ length: 50 }, (_, i) => appender(i)));
  assert.ok(conflicts > 0, 'the appenders did race');
  const rows = (await sql.query("SELECT version, event_data->>'i' AS i FROM events WHERE aggregate_id = $1 ORDER BY version", [s])).rows;
  assert.deepEqual(
    rows.map((r) => r.version),
    Array.from({ length: 51 }, (_, i) => i + 1),
    'gapless',
  );
  assert.equal(new Set(rows.slice(1).map((r) => r.i)).size, 50, 'each appender once');
  // Without an expected version, racing appends all land, in some order, still gapless.
  const t = uuid();
  await Promise.all(
    Array.from({ length: 50 }, (_, i) => append(t, { aggregateType: 'Order', events: [{ type: 'order.line', data: { i } }] })),
  );
  const v = (await sql.query('SELECT version FROM events WHERE aggregate_id = $1 ORDER BY version', [t])).rows.map((r) => r.version);
  assert.deepEqual(
    v,
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
});

test('a retried append appends once: Idempotency-Key and event ids', async () => {
  const s = uuid();
  const key = `key-${uuid()}`;
  const body = { aggregateType: 'User', events: [{ type: 'user.created', data: { email: 'idem@example.com' } }] };
  const first = await append(s, body, { 'idempotency-key': key });
  const again = await append(s, body, { 'idempotency-key': key }, 200);
  assert.equal(again.body.meta.replayed, true);
  assert.deepEqual(
    again.body.data.map((e) => e.id),
    first.body.data.map((e) => e.id),
  );
  expectError(
    await call('POST', `/events/${s}/events`, { ...body, events: [{ type: 'other', data: {} }] }, auth({ 'idempotency-key': key })),
    422,
    'the key with another body',
  );
  // Concurrent retries of one request: one append.
  const k2 = `key-${uuid()}`;
  const burst = await Promise.all(
    Array.from({ length: 10 }, () =>
      call('POST', `/events/${s}/events`, { events: [{ type: 'user.renamed', data: { name: 'R' } }] }, auth({ 'idempotency-key': k2 })),
    ),
  );
  assert.deepEqual(burst.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
  for (const e of burst.find((r) => r.status === 201).body.data) appended.set(e.id, e);
  // Event ids chosen by the client: the same events again return the first result.
  const ids = [uuid(), uuid()];
  const withIds = { events: ids.map((id, i) => ({ id, type: 'user.renamed', data: { name: `N${i}` } })) };
  await append(s, withIds);
  const replay = await append(s, withIds, {}, 200);
  assert.deepEqual(
    replay.body.data.map((e) => e.id),
    ids,
  );
  expectError(
    await call(
      'POST',
      `/events/${s}/events`,
      {
        events: [
          { id: ids[0], type: 'x', data: {} },
          { type: 'y', data: {} },
        ],
      },
      auth(),
    ),
    409,
    'a partial repeat',
  );
  const n = (await sql.query('SELECT count(*)::int AS n FROM events WHERE aggregate_id = $1', [s])).rows[0].n;
  assert.equal(n, 4, 'created, one rename under k2, two with ids');
});

test('events are immutable: no route changes them, and neither the app role nor the owner can in SQL', async () => {
  const s = uuid();
  const e = (await append(s, { aggregateType: 'User', events: [{ type: 'user.created', data: { email: 'imm@example.com' } }] })).body
    .data[0];
  expectError(await call('PATCH', `/events/${e.id}`, { eventType: 'changed' }, auth()), 404, 'PATCH');
  expectError(await call('DELETE', `/events/${e.id}`, undefined, auth()), 404, 'DELETE');
  expectError(
    await call('POST', '/events', { eventType: 'x', aggregateId: s, aggregateType: 'User', eventData: {}, version: 2 }, auth()),
    404,
    'CRUD create',
  );
  const app = new pg.Client({ connectionString: process.env.DATABASE_URL_APP });
  await app.connect();
  try {
    for (const stmt of [
      "UPDATE events SET event_type = 'x'",
      'DELETE FROM events',
      'TRUNCATE events CASCADE',
      'DELETE FROM nestgen.event_log',
      'INSERT INTO nestgen.event_log (event_id) VALUES (gen_random_uuid())',
    ]) {
      await assert.rejects(app.query(stmt), (err) => err.code === '42501', `app role: ${stmt}`);
    }
  } finally {
    await app.end();
  }
  for (const stmt of [`UPDATE events SET event_type = 'x' WHERE id = '${e.id}'`, `DELETE FROM events WHERE id = '${e.id}'`]) {
    await assert.rejects(sql.query(stmt), (err) => err.code === '42501' && /immutable/.test(err.message), `owner: ${stmt}`);
  }
});

test('the global feed, read while events are appended concurrently, misses none and repeats none', async () => {
  const start = expectStatus(await call('GET', `/events/feed?limit=1000&after=`, undefined, auth()), 200, 'feed head').body;
  let after = start.meta.nextPosition;
  while (true) {
    const r = expectStatus(await call('GET', `/events/feed?limit=1000&after=${after}`, undefined, auth()), 200, 'drain').body;
    if (r.data.length === 0) break;
    after = r.meta.nextPosition;
  }
  const writers = 10;
  const perWriter = 30;
  const mine = new Set();
  let writing = true;
  let deadline = Infinity;
  const seen = [];
  const reader = (async () => {
    for (;;) {
      const r = expectStatus(await call('GET', `/events/feed?limit=7&after=${after}`, undefined, auth()), 200, 'feed page').body;
      for (const e of r.data) seen.push(e);
      after = r.meta.nextPosition;
      // The feed passes an event once every older transaction of the cluster has ended (a long
      // one elsewhere, such as a big ingest of another test, holds it back for a while).
      if (!writing && r.data.length === 0 && ([...mine].every((id) => seen.some((e) => e.id === id)) || Date.now() > deadline)) return;
      if (r.data.length === 0) await new Promise((res) => setTimeout(res, 50));
    }
  })();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const s = uuid();
      for (let i = 0; i < perWriter; i += i % 3 === 0 ? 2 : 1) {
        const n = i % 3 === 0 ? 2 : 1;
        const r = await append(s, {
          aggregateType: 'Order',
          events: Array.from({ length: n }, (_, k) => ({ type: 'order.line', data: { w, i: i + k } })),
        });
        for (const e of r.body.data) mine.add(e.id);
      }
    }),
  );
  deadline = Date.now() + 120_000;
  writing = false;
  await reader;
  const ids = seen.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'no event twice');
  for (const id of mine) assert.ok(ids.includes(id), `the feed missed ${id}`);
  const positions = seen.map((e) => e.position.split('.').map(BigInt));
  for (let i = 1; i < positions.length; i++) {
    const [a, b] = [positions[i - 1], positions[i]];
    assert.ok(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]), 'positions only grow');
  }
  const byType = expectStatus(await call('GET', `/events/feed?type=user.created&limit=1000`, undefined, auth()), 200, 'by type').body.data;
  assert.ok(byType.length > 0 && byType.every((e) => e.type === 'user.created'));
  const correlation = uuid();
  await append(
    uuid(),
    { aggregateType: 'User', events: [{ type: 'user.created', data: { email: 'c@example.com' } }] },
    { 'x-correlation-id': correlation },
  );
  // The feed shows an event once every older transaction of the cluster has ended (another
  // test's long ingest may hold it back for a while): wait for it.
  let byCorrelation = [];
  for (const until = Date.now() + 120_000; byCorrelation.length === 0 && Date.now() < until;) {
    byCorrelation = expectStatus(await call('GET', `/events/feed?correlationId=${correlation}`, undefined, auth()), 200, 'by correlation')
      .body.data;
    if (byCorrelation.length === 0) await new Promise((res) => setTimeout(res, 100));
  }
  assert.deepEqual(
    byCorrelation.map((e) => e.correlationId),
    [correlation],
  );
  expectError(await call('GET', '/events/feed?after=garbage', undefined, auth()), 400, 'a malformed position');
});

test(`snapshots every ${SNAPSHOT_EVERY} events and on demand; the state is the fold of every event`, async () => {
  const s = uuid();
  const expected = {};
  for (let v = 1; v <= 2 * SNAPSHOT_EVERY + 2; v++) {
    const data = { [`k${v % 4}`]: v, ...(v === 3 ? { gone: true } : {}), ...(v === 4 ? { gone: null } : {}) };
    Object.assign(expected, data);
    if (data.gone === null) delete expected.gone;
    await append(s, { aggregateType: 'Counter', events: [{ type: 'counter.set', data }] });
  }
  const snaps = (await sql.query('SELECT version FROM aggregate_snapshots WHERE aggregate_id = $1 ORDER BY version', [s])).rows.map(
    (r) => r.version,
  );
  assert.deepEqual(snaps, [SNAPSHOT_EVERY, 2 * SNAPSHOT_EVERY]);
  const st = expectStatus(await call('GET', `/events/${s}/state`, undefined, auth()), 200, 'state').body.data;
  assert.equal(st.snapshotVersion, 2 * SNAPSHOT_EVERY, 'started from the latest snapshot');
  assert.deepEqual(st.state, expected, 'snapshot + events = every event folded');
  const taken = expectStatus(await call('POST', `/events/${s}/snapshots`, undefined, auth()), 201, 'snapshot now').body.data;
  assert.equal(taken.snapshotVersion, 2 * SNAPSHOT_EVERY + 2);
  const again = expectStatus(await call('GET', `/events/${s}/state`, undefined, auth()), 200, 'state again').body.data;
  assert.deepEqual([again.snapshotVersion, again.state], [2 * SNAPSHOT_EVERY + 2, expected]);
});

test('projection: rebuilt from the first event by a replay, it equals the live one', async () => {
  const worker = await startWorker();
  const users = Array.from({ length: 5 }, () => uuid());
  for (const [i, u] of users.entries()) {
    await append(u, { aggregateType: 'User', events: [{ type: 'user.created', data: { email: `p${i}@example.com`, name: `P${i}` } }] });
    for (let k = 0; k < 3; k++)
      await append(uuid(), { aggregateType: 'Order', events: [{ type: 'order.placed', data: { userId: u, amount: `${k + 1}.25` } }] });
  }
  await append(users[0], { events: [{ type: 'user.renamed', data: { name: 'Renamed' } }] });
  await caughtUp();
  const live = (
    await sql.query(
      'SELECT user_id::text, email, name, total_orders, total_spent::text, last_order_at::text, last_event_version FROM user_summary ORDER BY user_id',
    )
  ).rows;
  const first = live.find((r) => r.user_id === users[0]);
  assert.deepEqual([first.name, first.total_orders, first.total_spent], ['Renamed', 3, '6.75']);
  const replay = expectStatus(await call('POST', '/events/processors/user_summary/replay', undefined, auth()), 200, 'replay').body.data;
  assert.equal(replay.lastEventId, null);
  await caughtUp();
  const rebuilt = (
    await sql.query(
      'SELECT user_id::text, email, name, total_orders, total_spent::text, last_order_at::text, last_event_version FROM user_summary ORDER BY user_id',
    )
  ).rows;
  assert.deepEqual(rebuilt, live);
  // Pause and resume.
  expectStatus(await call('POST', '/events/processors/user_summary/pause', undefined, auth()), 200, 'pause');
  const u = uuid();
  await append(u, { aggregateType: 'User', events: [{ type: 'user.created', data: { email: 'paused@example.com' } }] });
  await sleep(700);
  assert.equal(await summary(u), undefined, 'a paused processor does nothing');
  expectStatus(await call('POST', '/events/processors/user_summary/resume', undefined, auth()), 200, 'resume');
  await caughtUp();
  assert.equal((await summary(u)).email, 'paused@example.com');
  expectError(await call('POST', '/events/processors/nope/pause', undefined, auth()), 404, 'unknown processor');
  await stop(worker);
});

test('a processor killed in the middle of a batch resumes without counting anything twice', async () => {
  const u = uuid();
  await append(u, { aggregateType: 'User', events: [{ type: 'user.created', data: { email: 'kill@example.com' } }] });
  const orders = 60;
  for (let k = 0; k < orders; k++)
    await append(uuid(), { aggregateType: 'Order', events: [{ type: 'order.placed', data: { userId: u, amount: '1.00' } }] });
  const slow = await startWorker({ E2E_PROJECTION_DELAY_MS: '40', EVENT_BATCH_SIZE: '40' });
  // Kill it once it has committed some batches but while a batch is in progress.
  const started = Date.now();
  let row;
  do {
    await sleep(50);
    row = await summary(u);
  } while ((!row || row.total_orders < 10) && Date.now() - started < 30_000);
  await sleep(300);
  await stop(slow, 'SIGKILL');
  const atKill = (await summary(u))?.total_orders ?? 0;
  assert.ok(atKill < orders, `killed before the end (${atKill} of ${orders})`);
  const resumed = await startWorker();
  await caughtUp();
  assert.equal((await summary(u)).total_orders, orders, 'every order counted exactly once');
  await stop(resumed);
});

test('two instances share the processors: no event is applied twice', async () => {
  const [a, b] = await Promise.all([startWorker({ EVENT_BATCH_SIZE: '5' }), startWorker({ EVENT_BATCH_SIZE: '5' })]);
  const u = uuid();
  await append(u, { aggregateType: 'User', events: [{ type: 'user.created', data: { email: 'two@example.com' } }] });
  const orders = 100;
  await Promise.all(
    Array.from({ length: orders }, () =>
      append(uuid(), { aggregateType: 'Order', events: [{ type: 'order.placed', data: { userId: u, amount: '2.00' } }] }),
    ),
  );
  await caughtUp();
  const row = await summary(u);
  assert.deepEqual([row.total_orders, row.total_spent], [orders, '200.00']);
  await Promise.all([stop(a), stop(b)]);
});

test('NATS JetStream: every event published once, its id the message id', async () => {
  const worker = await startWorker();
  await caughtUp();
  await stop(worker);
  const nc = await connect({ servers: APP_ENV.NATS_URL });
  try {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(APP_ENV.NATS_STREAM);
    const total = (await sql.query('SELECT count(*)::int AS n FROM nestgen.event_log')).rows[0].n;
    assert.equal(info.state.messages, total, 'one message per event, duplicates dropped');
    const seen = new Set();
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(APP_ENV.NATS_STREAM, { seq });
      const event = m.json();
      assert.equal(m.header.get('Nats-Msg-Id'), event.id);
      assert.ok(m.subject.startsWith(`${APP_ENV.NATS_SUBJECT_PREFIX}.`), m.subject);
      assert.ok(!seen.has(event.id), `published twice: ${event.id}`);
      seen.add(event.id);
    }
    for (const id of appended.keys()) assert.ok(seen.has(id), `never published: ${id}`);
  } finally {
    await jsm_cleanup(nc);
    await nc.close();
  }
});

async function jsm_cleanup(nc) {
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(APP_ENV.NATS_STREAM);
  } catch {
    // already gone
  }
}
