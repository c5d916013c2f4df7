// The read cache (issue 17): the seed's cached tables (organizations, organization_users,
// projects, with their metadata TTLs) and a cached parent/child pair (boards, board_cards with
// ON DELETE CASCADE), under tenancy. A stale-read matrix: after each kind of write the next
// read is fresh; two tenants never see each other's cached answers; with Redis paused or
// stopped reads still answer 200 and nothing stale is served once it is back.
//
// BASE_URL and BASE_URL_2: two instances on the machine's Redis (one prefix). BASE_URL_OWN:
// an instance whose Redis (OWN_REDIS_PORT) this test starts, pauses and stops.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { BASE, db, expectStatus } from './lib.mjs';

const BASE2 = process.env.BASE_URL_2;
const OWN = process.env.BASE_URL_OWN;
const OWN_PORT = Number(process.env.OWN_REDIS_PORT);
const PASSWORD = 'cache password 123';
let sql;
let ownRedis;
const org = {};
const tok = {};

async function at(base, method, path, token, body, headers = {}) {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text, headers: res.headers };
}

/** GET as `who` on `base`: 200 expected; returns the answer and its x-cache. */
async function read(who, path, base = BASE) {
  const r = expectStatus(await at(base, 'GET', path, tok[who]), 200, `GET ${path} as ${who}`);
  return { ...r, cache: r.headers.get('x-cache') };
}

/**
 * Read until the answer comes from the cache (so a later stale read would show). Usually the
 * second read is a hit; but every committed change also sends its table's NOTIFY, which each
 * instance turns into one more version move a few milliseconds after the change answered
 * (redundant for the app's own writes, needed for SQL ones). A read stored just before that
 * move is a miss once more, so a hit is awaited for up to a second, not demanded at once.
 */
async function warm(who, path, base = BASE) {
  await read(who, path, base);
  let r;
  await soon(`${path} on ${base} served from the cache`, async () => (r = await read(who, path, base)).cache === 'hit', 1000);
  return r;
}

/** Poll `check` (true when done) every 10 ms for up to `ms`. */
async function soon(what, check, ms) {
  const end = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const ids = (r) => r.body.data.map((x) => x.id).sort();

function startRedis() {
  const p = spawn('redis-server', ['--port', String(OWN_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  return p;
}

before(async () => {
  sql = await db();
  for (const slug of ['A', 'B']) {
    org[slug] = (
      await sql.query('INSERT INTO organizations (name, slug) VALUES ($1, $2) RETURNING id', [`Org ${slug}`, `cache-${slug.toLowerCase()}`])
    ).rows[0].id;
  }
  const adminRole = (await sql.query("SELECT id FROM roles WHERE slug = 'admin'")).rows[0].id;
  for (const o of ['A', 'B']) {
    const email = `owner${o.toLowerCase()}@cache.io`;
    const reg = expectStatus(
      await at(BASE, 'POST', '/auth/register', undefined, { email, password: PASSWORD, name: `owner ${o}` }),
      201,
      `register ${o}`,
    );
    const userId = reg.body.data.id;
    await sql.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [userId]);
    const m = (
      await sql.query('INSERT INTO organization_users (organization_id, email, name, role) VALUES ($1, $2, $3, $4) RETURNING id', [
        org[o],
        email,
        `owner ${o}`,
        'owner',
      ])
    ).rows[0].id;
    await sql.query('INSERT INTO nestgen.member_links (member_id, user_id) VALUES ($1, $2)', [m, userId]);
    await sql.query('INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)', [userId, adminRole]);
    tok[o] = expectStatus(
      await at(BASE, 'POST', '/auth/login', undefined, { email, password: PASSWORD }),
      200,
      `login ${o}`,
    ).body.accessToken;
    for (const n of [1, 2])
      expectStatus(await at(BASE, 'POST', '/v1/projects', tok[o], { name: `${o} project ${n}` }), 201, `project ${o}${n}`);
  }
});

after(async () => {
  await sql?.end();
  ownRedis?.kill('SIGKILL');
});

test('a repeated read comes from the cache, byte for byte, private and revalidated with its ETag', async () => {
  const first = await read('A', '/v1/projects?sort=name');
  assert.equal(first.cache, 'miss');
  const second = await warm('A', '/v1/projects?sort=name');
  assert.equal(second.text, first.text, 'the cached answer is the answer');
  assert.equal(second.headers.get('etag'), first.headers.get('etag'));
  assert.equal(second.headers.get('cache-control'), 'private, no-cache');
  const notModified = await at(BASE, 'GET', '/v1/projects?sort=name', tok.A, undefined, { 'if-none-match': second.headers.get('etag') });
  assert.equal(notModified.status, 304);
  // One row too, and the metadata's TTL is what Redis keeps it for.
  const id = first.body.data[0].id;
  const row = await warm('A', `/v1/projects/${id}`);
  assert.equal(row.body.data.id, id);
  // A table without the cache setting says nothing about a cache.
  const roles = await at(BASE, 'GET', '/roles', tok.A);
  assert.equal(roles.headers.get('x-cache'), null);
});

test('after each write through the app the next read is fresh: create, bulk, patch, delete, restore', async () => {
  const list = '/v1/projects?sort=name&limit=100';
  await warm('A', list);
  const made = expectStatus(await at(BASE, 'POST', '/v1/projects', tok.A, { name: 'A created' }), 201, 'create').body.data;
  let r = await read('A', list);
  assert.ok(ids(r).includes(made.id), 'created row listed');

  await warm('A', list);
  const bulk = expectStatus(await at(BASE, 'POST', '/v1/projects/bulk', tok.A, [{ name: 'A bulk 1' }, { name: 'A bulk 2' }]), 201, 'bulk')
    .body.data;
  r = await read('A', list);
  for (const b of bulk) assert.ok(ids(r).includes(b.id), 'bulk rows listed');

  const one = `/v1/projects/${made.id}`;
  await warm('A', one);
  await warm('A', list);
  expectStatus(await at(BASE, 'PATCH', one, tok.A, { name: 'A renamed' }), 200, 'patch');
  assert.equal((await read('A', one)).body.data.name, 'A renamed');
  assert.equal((await read('A', list)).body.data.find((p) => p.id === made.id).name, 'A renamed');

  await warm('A', one);
  await warm('A', list);
  expectStatus(await at(BASE, 'DELETE', one, tok.A), 204, 'delete');
  assert.equal((await at(BASE, 'GET', one, tok.A)).status, 404, 'deleted row: 404 at once');
  assert.ok(!ids(await read('A', list)).includes(made.id), 'deleted row not listed');

  await warm('A', `${list}&withDeleted=true`);
  expectStatus(await at(BASE, 'POST', `${one}/restore`, tok.A), 200, 'restore');
  assert.equal((await read('A', one)).body.data.deletedAt, null, 'restored row readable at once');
  assert.ok(ids(await read('A', list)).includes(made.id), 'restored row listed');
});

test('deleting a parent clears the cached reads of the children its foreign key cascades to', async () => {
  const board = expectStatus(await at(BASE, 'POST', '/boards', tok.A, { name: 'roadmap' }), 201, 'board').body.data;
  const cards = [];
  for (const title of ['one', 'two']) {
    cards.push(expectStatus(await at(BASE, 'POST', '/board-cards', tok.A, { boardId: board.id, title }), 201, 'card').body.data);
  }
  const byBoard = `/board-cards?boardId=eq.${board.id}`;
  assert.equal((await warm('A', byBoard)).body.data.length, 2);
  await warm('A', `/board-cards/${cards[0].id}`);
  expectStatus(await at(BASE, 'DELETE', `/boards/${board.id}`, tok.A), 204, 'delete board');
  // The cards went with it in the database; the cache must not show them.
  assert.equal((await sql.query('SELECT count(*)::int AS n FROM board_cards WHERE board_id = $1', [board.id])).rows[0].n, 0);
  assert.equal((await read('A', byBoard)).body.data.length, 0, 'cascaded children gone from the cached list');
  assert.equal((await at(BASE, 'GET', `/board-cards/${cards[0].id}`, tok.A)).status, 404, 'cascaded child gone');
});

test('a write on another instance: this instance’s next read is fresh', async () => {
  const p = expectStatus(await at(BASE, 'POST', '/v1/projects', tok.A, { name: 'shared' }), 201, 'create').body.data;
  const path = `/v1/projects/${p.id}`;
  await warm('A', path, BASE);
  await warm('A', path, BASE2);
  expectStatus(await at(BASE2, 'PATCH', path, tok.A, { name: 'changed on instance 2' }), 200, 'patch on 2');
  assert.equal((await read('A', path, BASE)).body.data.name, 'changed on instance 2');
  expectStatus(await at(BASE, 'PATCH', path, tok.A, { name: 'changed on instance 1' }), 200, 'patch on 1');
  assert.equal((await read('A', path, BASE2)).body.data.name, 'changed on instance 1');
});

test('a write in SQL reaches every instance through NOTIFY within a second', async () => {
  const p = expectStatus(await at(BASE, 'POST', '/v1/projects', tok.A, { name: 'before sql' }), 201, 'create').body.data;
  const path = `/v1/projects/${p.id}`;
  await warm('A', path, BASE);
  await warm('A', path, BASE2);
  const list = '/v1/projects?sort=name&limit=100';
  await warm('A', list);
  const started = performance.now();
  await sql.query("UPDATE projects SET name = 'changed in sql' WHERE id = $1", [p.id]);
  for (const base of [BASE, BASE2]) {
    await soon(`the row on ${base}`, async () => (await read('A', path, base)).body.data.name === 'changed in sql', 1000);
  }
  await soon('the list', async () => (await read('A', list)).body.data.find((x) => x.id === p.id).name === 'changed in sql', 1000);
  console.log(`# SQL write seen by both instances after ${Math.round(performance.now() - started)} ms`);
  // A membership link is followed too (organization_users reads depend on it).
  const members = '/v1/organization-users';
  const before = (await warm('A', members)).body.data;
  await sql.query('UPDATE organization_users SET name = $1 WHERE id = $2', ['renamed in sql', before[0].id]);
  await soon(
    'the membership',
    async () => (await read('A', members)).body.data.find((m) => m.id === before[0].id).name === 'renamed in sql',
    1000,
  );
});

test('two tenants asking the same question never see each other’s cached answer', async () => {
  const path = '/v1/projects?sort=name&limit=100';
  const answers = {};
  for (const o of ['A', 'B']) {
    answers[o] = await warm(o, path);
    const expected = (
      await sql.query('SELECT id::text FROM projects WHERE organization_id = $1 AND deleted_at IS NULL ORDER BY id', [org[o]])
    ).rows.map((x) => x.id);
    assert.deepEqual(ids(answers[o]), expected.sort(), `${o} sees exactly its own projects`);
    for (const row of answers[o].body.data) assert.equal(row.organizationId, org[o]);
  }
  assert.notEqual(answers.A.text, answers.B.text);
  // The organization row: each owner gets their own from the same path.
  for (const o of ['A', 'B']) {
    await read(o, '/v1/organizations');
    const r = await read(o, '/v1/organizations');
    assert.deepEqual(ids(r), [org[o]]);
  }
  // A row of the other tenant stays 404, cached or not.
  const bRow = answers.B.body.data[0].id;
  await warm('B', `/v1/projects/${bRow}`);
  for (let i = 0; i < 2; i++) assert.equal((await at(BASE, 'GET', `/v1/projects/${bRow}`, tok.A)).status, 404);
});

test('a corrupt cached answer is read as a miss, never an error', async () => {
  const path = '/v1/projects?sort=-name&limit=3';
  const good = await warm('A', path);
  const redis = new Redis(process.env.REDIS_URL);
  let n = 0;
  for await (const keys of redis.scanStream({ match: `${process.env.REDIS_PREFIX}cache:*:d:*`, count: 1000 })) {
    for (const k of keys) {
      await redis.set(k, '{"data":', 'KEEPTTL');
      n++;
    }
  }
  redis.disconnect();
  assert.ok(n > 0, 'cached answers found in Redis');
  const r = await read('A', path);
  assert.equal(r.cache, 'miss');
  assert.equal(r.text, good.text);
  await warm('A', path); // stored again
});

test('a listener that stops hearing is replaced: a change in SQL is not missed for more than a few heartbeats', async () => {
  const p = expectStatus(await at(BASE, 'POST', '/v1/projects', tok.A, { name: 'before the stall' }), 201, 'create').body.data;
  const path = `/v1/projects/${p.id}`;
  await warm('A', path);
  // Freeze the server processes of every instance's change listener: their connections stay
  // open but hear nothing (what a half-open connection or a stalled server looks like).
  const pids = (await sql.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'nest-api-cache'")).rows.map((r) => r.pid);
  assert.ok(pids.length >= 2, `listeners found: ${pids.length}`);
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  try {
    await sql.query("UPDATE projects SET name = 'changed during the stall' WHERE id = $1", [p.id]);
    const started = performance.now();
    await soon('the change seen', async () => (await read('A', path)).body.data.name === 'changed during the stall', 4000);
    console.log(
      `# change made while the listener was stalled seen after ${Math.round(performance.now() - started)} ms (heartbeat 1000 ms)`,
    );
  } finally {
    for (const pid of pids) process.kill(pid, 'SIGCONT');
  }
  await soon('served from the cache again', async () => (await read('A', path)).cache === 'hit', 15_000);
});

test('Redis paused or stopped: reads still answer 200, and nothing stale is served once it is back', async () => {
  const p = expectStatus(await at(OWN, 'POST', '/v1/projects', tok.A, { name: 'own redis' }), 201, 'create').body.data;
  const path = `/v1/projects/${p.id}`;
  // The instance started before its Redis: it answers from the database meanwhile.
  assert.equal((await read('A', path, OWN)).cache, 'bypass');
  ownRedis = startRedis();
  await soon('served from the cache', async () => (await read('A', path, OWN)).cache === 'hit', 10_000);

  // Paused: commands time out (CACHE_TIMEOUT_MS); a change made meanwhile cannot move the
  // versions, so the cache must not serve again until every version has moved.
  const admin = new Redis({ port: OWN_PORT, lazyConnect: true });
  await admin.connect();
  await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
  const started = performance.now();
  expectStatus(await at(OWN, 'PATCH', path, tok.A, { name: 'changed while paused' }), 200, 'patch while Redis is paused');
  let r = await read('A', path, OWN);
  assert.equal(r.body.data.name, 'changed while paused');
  assert.ok(performance.now() - started < 1500, 'requests did not wait for Redis');
  await soon('served from the cache', async () => (await read('A', path, OWN)).cache === 'hit', 10_000);
  assert.equal((await read('A', path, OWN)).body.data.name, 'changed while paused', 'no stale answer after the pause');

  // Stopped.
  ownRedis.kill('SIGKILL');
  await new Promise((resolve) => ownRedis.once('exit', resolve));
  admin.disconnect();
  for (let i = 0; i < 5; i++) {
    r = await read('A', path, OWN);
    assert.notEqual(r.cache, 'hit');
  }
  expectStatus(await at(OWN, 'PATCH', path, tok.A, { name: 'changed while stopped' }), 200, 'patch while Redis is down');
  assert.equal((await read('A', path, OWN)).body.data.name, 'changed while stopped');
  const list = await read('A', '/v1/projects?limit=5', OWN);
  assert.equal(list.status, 200);
  // Back: served from the cache again, fresh.
  ownRedis = startRedis();
  await soon('served from the cache again', async () => (await read('A', path, OWN)).cache === 'hit', 15_000);
  assert.equal((await read('A', path, OWN)).body.data.name, 'changed while stopped');
});
