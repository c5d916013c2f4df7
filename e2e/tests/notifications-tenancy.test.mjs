// Notifications under tenancy, run by crates/cli/tests/e2e.rs::notifications_under_tenancy_*: the
// notifications table has the tenant column, so a notification is the sender's organization's;
// recipients must be members of it; the worker (in the API here) delivers inside it; the app and
// row-level security (checked as the app's own role) show it to its recipient in that
// organization only.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { BASE, call, db, eventually, expectError, expectStatus } from './lib.mjs';

const PASSWORD = 'notify tenancy 123';
let sql;
const org = {};
const user = {};
const tok = {};
const as = (who, o) => ({ headers: { authorization: `Bearer ${tok[who]}`, 'x-organization-id': org[o] } });

before(async () => {
  sql = await db();
  for (const o of ['A', 'B']) {
    org[o] = (
      await sql.query('INSERT INTO organizations (name, slug) VALUES ($1, $2) RETURNING id', [`Notify ${o}`, `notify-${o.toLowerCase()}`])
    ).rows[0].id;
  }
  // root: super-admin and member of A; alice: A; bob: B.
  for (const [who, orgs, role] of [
    ['root', ['A'], 'super-admin'],
    ['alice', ['A'], 'user'],
    ['bob', ['B'], 'user'],
  ]) {
    const email = `${who}@notify-tenancy.io`;
    user[who] = expectStatus(
      await call('POST', '/auth/register', { email, password: PASSWORD, name: who }),
      201,
      `register ${who}`,
    ).body.data;
    await sql.query('INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE slug = $2', [user[who].id, role]);
    for (const o of orgs) {
      const m = (
        await sql.query('INSERT INTO organization_users (organization_id, email, name, role) VALUES ($1, $2, $3, $4) RETURNING id', [
          org[o],
          email,
          who,
          'member',
        ])
      ).rows[0].id;
      await sql.query('INSERT INTO nestgen.member_links (member_id, user_id) VALUES ($1, $2)', [m, user[who].id]);
    }
    tok[who] = expectStatus(await call('POST', '/auth/login', { email, password: PASSWORD }), 200, `login ${who}`).body.accessToken;
  }
  await sql.query("INSERT INTO notification_templates (name, type, body_template) VALUES ('hello', 'in-app', 'Hello {{name}}')");
});

after(async () => {
  await sql?.end();
});

test('a notification belongs to the sender’s organization; recipients must be its members', async () => {
  const [n] = expectStatus(
    await call('POST', '/notifications/notify', { template: 'hello', to: [user.alice.id], variables: { name: 'Alice' } }, as('root', 'A')),
    201,
    'root in A to alice',
  ).body.data;
  const r = (await sql.query('SELECT organization_id, status FROM notifications WHERE id = $1', [n.id])).rows[0];
  assert.equal(r.organization_id, org.A, 'the organization set by the server');
  await eventually(
    'delivered inside A',
    async () => (await sql.query('SELECT status FROM notifications WHERE id = $1', [n.id])).rows[0].status === 'sent',
  );
  expectError(
    await call('POST', '/notifications/notify', { template: 'hello', to: [user.bob.id], variables: { name: 'Bob' } }, as('root', 'A')),
    400,
    'bob is not a member of A',
  );
  // alice sees it in A only; bob never.
  const mine = expectStatus(await call('GET', '/notifications', undefined, as('alice', 'A')), 200, 'alice in A').body.data;
  assert.deepEqual(
    mine.map((x) => x.id),
    [n.id],
  );
  expectError(await call('GET', '/notifications', undefined, as('alice', 'B')), 403, 'alice is no member of B');
  const bobs = expectStatus(await call('GET', '/notifications', undefined, as('bob', 'B')), 200, 'bob in B').body.data;
  assert.equal(bobs.length, 0);
  expectError(await call('POST', `/notifications/${n.id}/read`, undefined, as('bob', 'B')), 404, 'bob marks alice’s');
  assert.equal(expectStatus(await call('GET', '/notifications/unread-count', undefined, as('alice', 'A')), 200, 'count').body.count, 1);
});

test('row-level security alone keeps a notification in its organization (the app’s own role)', async () => {
  const app = new pg.Client({ connectionString: process.env.APP_DATABASE_URL });
  await app.connect();
  try {
    const seen = async (who, o) => {
      await app.query('BEGIN');
      try {
        await app.query("SELECT set_config('nestgen.user_id', $1, true), set_config('app.current_organization_id', $2, true)", [
          user[who].id,
          org[o],
        ]);
        return (await app.query('SELECT count(*)::int AS n FROM notifications')).rows[0].n;
      } finally {
        await app.query('ROLLBACK');
      }
    };
    assert.equal(await seen('alice', 'A'), 1);
    assert.equal(await seen('alice', 'B'), 0, 'alice’s own, named in the wrong organization');
    assert.equal(await seen('bob', 'B'), 0);
  } finally {
    await app.end();
  }
});

test('realtime under tenancy: missed notifications are replayed for the organization the client names, if a member', async () => {
  const { io } = await import('socket.io-client');
  const since = new Date(Date.now() - 60_000).toISOString();
  const replay = (organization) =>
    new Promise((resolve, reject) => {
      const seen = [];
      const s = io(BASE, {
        path: '/realtime',
        transports: ['websocket'],
        auth: { token: tok.alice, since, organization },
        reconnection: false,
      });
      s.on('notification', (n) => seen.push(n));
      s.on('connect', () => setTimeout(() => (s.close(), resolve(seen)), 700));
      s.on('connect_error', reject);
    });
  const inA = await replay(org.A);
  assert.equal(inA.length, 1, 'alice’s notification of A');
  assert.equal(inA[0].message, 'Hello Alice');
  assert.deepEqual(await replay(org.B), [], 'not a member of B: nothing');
  assert.deepEqual(await replay(undefined), [], 'no organization named: nothing of a tenant-scoped table');
});
