// SQL fragments in every place a client controls: filter values, operator names, field names,
// sort, cursor and path parameters. Each must give 400 or 404 (or an empty 200 for a value that
// is just an odd string), leave the database unchanged, and never run pg_sleep.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { call, db, expectStatus } from './lib.mjs';

const PAYLOADS = [
  "'; DROP TABLE users; --",
  "1' OR '1'='1",
  '1); SELECT pg_sleep(3); --',
  "x' || pg_sleep(3) || '",
  '"; SELECT pg_sleep(3); --',
  '$$; SELECT pg_sleep(3); $$',
  "\\'; SELECT pg_sleep(3); --",
  'id) OR (1=1',
  'pg_sleep(3)',
  '(SELECT pg_sleep(3))',
  "1; UPDATE users SET name = 'pwned'",
];
let sql;
let fingerprint;

async function snapshot() {
  const { rows } = await sql.query(`
    SELECT string_agg(format('%s:%s', c.relname, c.n), ',' ORDER BY c.relname) AS tables,
           (SELECT md5(string_agg(u::text, '' ORDER BY u.id)) FROM users u) AS users
    FROM (SELECT relname, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', schemaname, relname), false, true, '')))[1]::text AS n
          FROM pg_stat_user_tables WHERE schemaname = 'public') c`);
  return rows[0];
}

before(async () => {
  sql = await db();
  // The trap works: a direct call is counted (and then forgotten).
  await sql.query('SELECT pg_sleep(3)');
  assert.equal(await trapped(), 1, 'the pg_sleep trap is in place');
  await sql.query('DELETE FROM injection_trap');
  await call('POST', '/users', { email: 'victim@example.com', passwordHash: 'h', name: 'Victim' });
  fingerprint = await snapshot();
});

after(async () => {
  const now = await snapshot();
  assert.equal(now.tables, fingerprint.tables, 'row counts of every table unchanged');
  assert.equal(now.users, fingerprint.users, 'users unchanged');
  await sql?.end();
});

/** Calls of the trap the harness put in place of pg_sleep (an injected unqualified pg_sleep lands there). */
async function trapped() {
  return Number((await sql.query('SELECT count(*)::int AS n FROM injection_trap')).rows[0].n);
}

/** A 400/404, or a 200 whose rows are exactly what the value selects as plain data; no injected call ran. */
async function safe(r, what, { emptyIf200 = true } = {}) {
  assert.ok([200, 400, 404].includes(r.status), `${what}: got ${r.status} ${r.text.slice(0, 300)}`);
  assert.equal(await trapped(), 0, `${what}: an injected pg_sleep ran`);
  if (r.status === 200 && emptyIf200) assert.ok(Array.isArray(r.body.data) && r.body.data.length === 0, `${what}: matched rows`);
}

test('filter values are parameters', async () => {
  for (const p of PAYLOADS) {
    const v = encodeURIComponent(p);
    await safe(await call('GET', `/users?email=eq.${v}`), `text eq ${p}`);
    await safe(await call('GET', `/users?name=like.${v}`), `like ${p}`);
    await safe(await call('GET', `/users?email=in.(${v},"${v}")`), `in ${p}`);
    expectStatus(await call('GET', `/users?id=eq.${v}`), 400, `uuid ${p}`);
    expectStatus(await call('GET', `/users?failedLoginAttempts=gt.${v}`), 400, `int ${p}`);
    expectStatus(await call('GET', `/users?createdAt=lt.${v}`), 400, `timestamp ${p}`);
    expectStatus(await call('GET', `/v1/organizations?settings=cs.${v}`), 400, `jsonb ${p}`);
    await safe(await call('GET', `/v1/organizations?settings=cs.${encodeURIComponent(JSON.stringify({ k: p }))}`), `jsonb value ${p}`);
  }
});

test('operator and field names are checked against the schema', async () => {
  for (const p of PAYLOADS) {
    const v = encodeURIComponent(p);
    expectStatus(await call('GET', `/users?email=${v}.x`), 400, `operator ${p}`);
    expectStatus(await call('GET', `/users?${v}=eq.1`), 400, `field ${p}`);
    expectStatus(await call('GET', `/users?email=not.${v}`), 400, `negated operator ${p}`);
  }
});

test('sort, paging and count are checked', async () => {
  for (const p of PAYLOADS) {
    const v = encodeURIComponent(p);
    expectStatus(await call('GET', `/users?sort=${v}`), 400, `sort ${p}`);
    expectStatus(await call('GET', `/users?sort=email,${v}`), 400, `sort list ${p}`);
    expectStatus(await call('GET', `/users?limit=${v}`), 400, `limit ${p}`);
    expectStatus(await call('GET', `/users?offset=${v}`), 400, `offset ${p}`);
    expectStatus(await call('GET', `/users?count=${v}`), 400, `count ${p}`);
  }
});

test('forged cursors', async () => {
  const enc = (o) => encodeURIComponent(Buffer.from(JSON.stringify(o)).toString('base64url'));
  for (const p of PAYLOADS) {
    // The payload is compared as a string (rows after it in email order may come back); nothing runs.
    await safe(
      await call('GET', `/users?sort=email&cursor=${enc({ s: 'email,id', v: [p, '00000000-0000-0000-0000-000000000000'] })}`),
      `cursor text ${p}`,
      { emptyIf200: false },
    );
    expectStatus(await call('GET', `/users?sort=email&cursor=${enc({ s: 'email,id', v: ['a', p] })}`), 400, `cursor uuid ${p}`);
    expectStatus(await call('GET', `/users?cursor=${enc({ s: p, v: [p] })}`), 400, `cursor signature ${p}`);
    expectStatus(await call('GET', `/users?cursor=${encodeURIComponent(p)}`), 400, `cursor raw ${p}`);
    expectStatus(
      await call('GET', `/metrics?sort=time&cursor=${enc({ s: 'time,ctid', v: ['2024-01-01T00:00:00Z', p] })}`),
      400,
      `ctid ${p}`,
    );
  }
});

test('path parameters', async () => {
  for (const p of PAYLOADS) {
    const v = encodeURIComponent(p);
    expectStatus(await call('GET', `/users/${v}`), 400, `uuid path ${p}`);
    expectStatus(await call('PATCH', `/users/${v}`, { name: 'x' }), 400, `uuid path patch ${p}`);
    expectStatus(await call('DELETE', `/users/${v}`), 400, `uuid path delete ${p}`);
    await safe(await call('GET', `/event-processors/${v}`), `text key ${p}`);
    expectStatus(await call('GET', `/role-permissions/${v}/${v}`), 400, `composite ${p}`);
  }
});

test('bodies: values stored as text, never run', async () => {
  const r = expectStatus(
    await call('POST', '/roles', { name: "p'); DROP TABLE users; --", slug: "x'; DROP TABLE x;--", description: '$1 $$ \\' }),
    201,
    'stored verbatim',
  );
  assert.equal(r.body.data.name, "p'); DROP TABLE users; --");
  assert.equal(r.body.data.slug, "x'; DROP TABLE x;--");
  assert.equal(r.body.data.description, '$1 $$ \\');
  const found = expectStatus(await call('GET', `/roles?name=eq.${encodeURIComponent(r.body.data.name)}`), 200, 'found by its odd value')
    .body.data;
  assert.deepEqual(
    found.map((x) => x.id),
    [r.body.data.id],
  );
  expectStatus(await call('DELETE', `/roles/${r.body.data.id}`), 204, 'deleted');
  expectStatus(
    await call('POST', '/users', { email: 'a@b.co', passwordHash: 'h', name: 'n', "name = 'x' --": 1 }),
    400,
    'odd property name',
  );
});
