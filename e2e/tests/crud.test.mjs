// End to end over HTTP against the app generated from the seed schema (fixtures/seed) and a
// real PostgreSQL database. Run by crates/cli/tests/e2e.rs, which generates, builds and boots it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  BASE,
  assertSameSequence,
  call,
  db,
  expectError,
  expectStatus,
  seenBodies,
  uuid,
  walkCursor,
  walkOffset,
  undocumentedErrors,
  undocumentedSuccess,
} from './lib.mjs';

const SECRET_HASH = 'argon2id$never-return-this-hash';
const SECRET_TOTP = 'TOTPSECRETNEVERRETURN';
const SECRET_SHARE = 'share-token-never-return';
let sql;

before(async () => {
  sql = await db();
});
after(async () => {
  await sql?.end();
});

test('health and OpenAPI', async () => {
  const h = expectStatus(await call('GET', '/health'), 200, 'health');
  assert.deepEqual(h.body, { status: 'ok', database: 'up' });
  const doc = expectStatus(await call('GET', '/docs-json'), 200, 'docs-json').body;
  assert.equal(doc.openapi.slice(0, 2), '3.');
  expectStatus(await call('GET', '/docs'), 200, 'swagger ui');
});

test('users: create, get, list with operators, sort, patch, soft delete, restore', async () => {
  const r = expectStatus(
    await call('POST', '/users', {
      email: 'ada@example.com',
      passwordHash: SECRET_HASH,
      name: 'Ada Lovelace',
      twoFactorSecret: SECRET_TOTP,
    }),
    201,
    'create user',
  );
  const u = r.body.data;
  assert.match(u.id, /^[0-9a-f-]{36}$/);
  assert.equal(u.email, 'ada@example.com');
  assert.equal(u.status, 'active', 'default from the schema');
  assert.equal(u.failedLoginAttempts, 0);
  assert.ok(!('passwordHash' in u) && !('twoFactorSecret' in u), 'secrets are write-only');
  assert.match(u.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/, 'ISO 8601');

  expectStatus(await call('POST', '/users', { email: 'bob@example.com', passwordHash: 'h2', name: 'Bob' }), 201, 'bob');
  expectStatus(await call('POST', '/users', { email: 'cy@other.org', passwordHash: 'h3', name: 'Cy', status: 'suspended' }), 201, 'cy');

  const got = expectStatus(await call('GET', `/users/${u.id}`), 200, 'get user').body.data;
  assert.deepEqual(got, u);

  // Three operators at once, plus negation and in.
  let list = expectStatus(
    await call('GET', '/users?email=ilike.*@example.com&status=eq.active&failedLoginAttempts=lte.0&count=exact'),
    200,
    'filters',
  );
  assert.deepEqual(list.body.data.map((x) => x.email).sort(), ['ada@example.com', 'bob@example.com']);
  assert.equal(list.body.meta.count, 2);
  list = expectStatus(await call('GET', '/users?status=not.eq.active'), 200, 'not.eq');
  assert.deepEqual(
    list.body.data.map((x) => x.email),
    ['cy@other.org'],
  );
  list = expectStatus(await call('GET', '/users?name=in.(Bob,"Cy")&sort=-name'), 200, 'in + sort desc');
  assert.deepEqual(
    list.body.data.map((x) => x.name),
    ['Cy', 'Bob'],
  );
  list = expectStatus(await call('GET', '/users?phone=is.null&sort=email'), 200, 'is.null + sort');
  assert.deepEqual(
    list.body.data.map((x) => x.email),
    ['ada@example.com', 'bob@example.com', 'cy@other.org'],
  );
  list = expectStatus(await call('GET', '/users?sort=-created_at&limit=1'), 200, 'snake_case sort key');
  assert.equal(list.body.data[0].email, 'cy@other.org');

  // Patch: updated_at moves, secrets stay hidden, unknown fields are refused.
  const patched = expectStatus(await call('PATCH', `/users/${u.id}`, { name: 'Ada King', phone: '+44 20 7946 0000' }), 200, 'patch').body
    .data;
  assert.equal(patched.name, 'Ada King');
  assert.ok(patched.updatedAt > u.updatedAt, 'updated_at set on update');
  expectError(await call('PATCH', `/users/${u.id}`, { id: uuid() }), 400, 'patch of the key');
  expectError(await call('PATCH', `/users/${u.id}`, {}), 400, 'empty patch');
  expectError(await call('PATCH', `/users/${u.id}`, { name: null }), 400, 'null into NOT NULL');

  // Soft delete and restore.
  expectStatus(await call('DELETE', `/users/${u.id}`), 204, 'soft delete');
  expectError(await call('GET', `/users/${u.id}`), 404, 'deleted is gone');
  expectError(await call('DELETE', `/users/${u.id}`), 404, 'delete twice');
  const withDeleted = expectStatus(await call('GET', `/users/${u.id}?withDeleted=true`), 200, 'withDeleted').body.data;
  assert.ok(withDeleted.deletedAt);
  const { rows } = await sql.query('SELECT deleted_at FROM users WHERE id = $1', [u.id]);
  assert.ok(rows[0].deleted_at, 'row kept with deleted_at');
  list = expectStatus(await call('GET', '/users?withDeleted=true&email=eq.ada@example.com'), 200, 'list withDeleted');
  assert.equal(list.body.data.length, 1);
  const restored = expectStatus(await call('POST', `/users/${u.id}/restore`), 200, 'restore').body.data;
  assert.equal(restored.deletedAt, null);
  expectError(await call('POST', `/users/${u.id}/restore`), 404, 'restore a live row');

  // 409 for the unique email, 400 for bad bodies, 404 for missing ids.
  expectError(await call('POST', '/users', { email: 'bob@example.com', passwordHash: 'x', name: 'Dup' }), 409, 'unique email');
  expectError(await call('POST', '/users', { email: 'not-an-email', passwordHash: 'x', name: 'N' }), 400, 'invalid email');
  expectError(await call('POST', '/users', { email: 'e@example.com', passwordHash: 'x' }), 400, 'missing name');
  expectError(await call('POST', '/users', { email: 'e@example.com', passwordHash: 'x', name: 'E', isAdmin: true }), 400, 'unknown field');
  expectError(await call('POST', '/users', { email: 'e@example.com', passwordHash: 'x', name: 'E', id: uuid() }), 400, 'server-managed id');
  expectError(await call('POST', '/users', { email: 'e@example.com', passwordHash: 'x', name: 'x'.repeat(201) }), 400, 'over max length');
  expectError(
    await call('POST', '/users', { email: 'e@example.com', passwordHash: 'x', name: 'E', failedLoginAttempts: 1.5 }),
    400,
    'not an integer',
  );
  expectError(await call('POST', '/users', '{"email":', { raw: true }), 400, 'malformed JSON');
  expectError(await call('GET', `/users/${uuid()}`), 404, 'missing id');
  expectError(await call('PATCH', `/users/${uuid()}`, { name: 'x' }), 404, 'patch missing id');
  expectError(await call('DELETE', `/users/${uuid()}`), 404, 'delete missing id');
  expectError(await call('GET', '/users/not-a-uuid'), 400, 'malformed id');
});

test('organizations and projects (versioned routes): unique slug, foreign keys', async () => {
  const org = expectStatus(await call('POST', '/v1/organizations', { name: 'Acme', slug: 'acme', settings: { theme: 'dark' } }), 201, 'org')
    .body.data;
  assert.deepEqual(org.settings, { theme: 'dark' });
  assert.equal(org.subscriptionTier, 'free');
  expectError(await call('POST', '/v1/organizations', { name: 'Acme 2', slug: 'acme' }), 409, 'unique slug');
  expectStatus(await call('GET', `/v1/organizations/${org.id}`), 200, 'get org');
  expectError(await call('GET', `/organizations/${org.id}`), 404, 'unversioned path does not exist');
  const list = expectStatus(
    await call('GET', '/v1/organizations?settings=cs.{"theme":"dark"}&slug=like.ac*&status=eq.active'),
    200,
    'jsonb contains',
  );
  assert.equal(list.body.data.length, 1);

  const p = expectStatus(await call('POST', '/v1/projects', { organizationId: org.id, name: 'Apollo' }), 201, 'project').body.data;
  expectError(await call('POST', '/v1/projects', { organizationId: uuid(), name: 'Orphan' }), 409, 'FK to a missing organization');
  expectError(await call('POST', '/v1/projects', { organizationId: 'nope', name: 'Bad' }), 400, 'malformed FK');
  const patched = expectStatus(await call('PATCH', `/v1/projects/${p.id}`, { description: 'to the moon' }), 200, 'patch project').body.data;
  assert.equal(patched.description, 'to the moon');
  expectStatus(await call('DELETE', `/v1/projects/${p.id}`), 204, 'soft delete project');
  expectStatus(await call('POST', `/v1/projects/${p.id}/restore`), 200, 'restore project');
  // Hard constraint: an organization referenced by projects.
  const ou = expectStatus(
    await call('POST', '/v1/organization-users', { organizationId: org.id, email: 'm@acme.io', name: 'M' }),
    201,
    'member',
  ).body.data;
  expectError(
    await call('POST', '/v1/organization-users', { organizationId: org.id, email: 'm@acme.io', name: 'M2' }),
    409,
    'unique (organization_id, email)',
  );
  assert.equal(ou.role, 'member');
});

test('role_permissions: composite-key routes', async () => {
  const role = expectStatus(await call('POST', '/roles', { name: 'Editor', slug: 'editor' }), 201, 'role').body.data;
  const perm = expectStatus(
    await call('POST', '/permissions', { name: 'Edit posts', slug: 'posts:update', resource: 'posts', action: 'update' }),
    201,
    'perm',
  ).body.data;
  const rp = expectStatus(await call('POST', '/role-permissions', { roleId: role.id, permissionId: perm.id }), 201, 'role permission').body
    .data;
  assert.equal(rp.roleId, role.id);
  expectStatus(await call('GET', `/role-permissions/${role.id}/${perm.id}`), 200, 'get by composite key');
  expectError(await call('POST', '/role-permissions', { roleId: role.id, permissionId: perm.id }), 409, 'duplicate composite key');
  expectError(await call('POST', '/role-permissions', { roleId: uuid(), permissionId: perm.id }), 409, 'FK to a missing role');
  expectError(await call('GET', `/role-permissions/${role.id}/${uuid()}`), 404, 'missing composite key');
  expectError(await call('GET', `/role-permissions/${role.id}/nope`), 400, 'malformed composite key');
  const list = expectStatus(await call('GET', `/role-permissions?roleId=eq.${role.id}`), 200, 'list by role').body;
  assert.equal(list.data.length, 1);
  // Self reference: a child role.
  const child = expectStatus(
    await call('POST', '/roles', { name: 'Junior', slug: 'junior', parentRoleId: role.id, level: 5 }),
    201,
    'child role',
  ).body.data;
  assert.equal(child.parentRoleId, role.id);
  expectError(await call('DELETE', `/roles/${role.id}`), 409, 'role still referenced by its child');
  expectStatus(await call('DELETE', `/role-permissions/${role.id}/${perm.id}`), 204, 'hard delete');
  expectError(await call('GET', `/role-permissions/${role.id}/${perm.id}`), 404, 'gone');
});

test('files: forward-referenced folders, bigint as string, soft delete', async () => {
  const folder = expectStatus(await call('POST', '/folders', { name: 'Docs', ownerId: uuid() }), 201, 'folder').body.data;
  const f = expectStatus(
    await call('POST', '/files', {
      storageProvider: 's3',
      storagePath: '/a/b.pdf',
      originalName: 'b.pdf',
      filename: 'b-1.pdf',
      mimeType: 'application/pdf',
      sizeBytes: '9007199254740993',
      checksum: 'abc',
      folderId: folder.id,
      ownerId: uuid(),
    }),
    201,
    'file',
  ).body.data;
  assert.equal(f.sizeBytes, '9007199254740993', 'bigint keeps every digit');
  assert.equal(f.visibility, 'private');
  const num = expectStatus(
    await call('POST', '/files', {
      storageProvider: 's3',
      storagePath: '/c',
      originalName: 'c',
      filename: 'c-1',
      mimeType: 'text/plain',
      sizeBytes: 42,
      checksum: 'c',
      ownerId: uuid(),
    }),
    201,
    'bigint from a number',
  ).body.data;
  assert.equal(num.sizeBytes, '42');
  expectError(
    await call('POST', '/files', {
      storageProvider: 's3',
      storagePath: '/d',
      originalName: 'd',
      filename: 'b-1.pdf',
      mimeType: 'x',
      sizeBytes: '1',
      checksum: 'd',
      ownerId: uuid(),
    }),
    409,
    'unique filename',
  );
  expectError(
    await call('POST', '/files', {
      storageProvider: 's3',
      storagePath: '/e',
      originalName: 'e',
      filename: 'e',
      mimeType: 'x',
      sizeBytes: '1',
      checksum: 'e',
      ownerId: uuid(),
      folderId: uuid(),
    }),
    409,
    'FK to a missing folder',
  );
  expectError(
    await call('POST', '/files', {
      storageProvider: 's3',
      storagePath: '/e',
      originalName: 'e',
      filename: 'e',
      mimeType: 'x',
      sizeBytes: 'lots',
      checksum: 'e',
      ownerId: uuid(),
    }),
    400,
    'bigint not a number',
  );
  const list = expectStatus(
    await call('GET', `/files?sizeBytes=gt.9007199254740992&folderId=eq.${folder.id}&mimeType=ilike.application/*`),
    200,
    'bigint filter',
  ).body;
  assert.equal(list.data.length, 1);
  const share = expectStatus(await call('POST', '/file-shares', { fileId: f.id, shareToken: SECRET_SHARE, sharedBy: uuid() }), 201, 'share')
    .body.data;
  assert.ok(!('shareToken' in share), 'tokens are write-only');
  expectError(await call('GET', `/file-shares?shareToken=eq.${SECRET_SHARE}`), 400, 'secrets cannot be filtered on');
  expectStatus(await call('DELETE', `/files/${f.id}`), 204, 'soft delete file');
  expectStatus(await call('POST', `/files/${f.id}/restore`), 200, 'restore file');
});

test('notifications: filters, sort with ties, offset and cursor pages agree', async () => {
  const user = uuid();
  const bulk = [];
  for (let i = 0; i < 23; i++) {
    bulk.push({
      userId: user,
      type: ['email', 'sms', 'push'][i % 3],
      message: `m${i}`,
      priority: i % 3,
      title: i % 4 === 0 ? null : `t${i}`,
    });
  }
  const created = expectStatus(await call('POST', '/notifications/bulk', bulk), 201, 'bulk create').body.data;
  assert.equal(created.length, 23);
  // All or nothing: one bad row, nothing written.
  const before = (await sql.query('SELECT count(*)::int AS n FROM notifications')).rows[0].n;
  expectError(
    await call('POST', '/notifications/bulk', [
      { userId: user, type: 'email', message: 'ok' },
      { userId: user, type: 'email' },
    ]),
    400,
    'bulk with an invalid row',
  );
  expectError(
    await call('POST', '/notifications/bulk', [
      { userId: user, type: 'email', message: 'ok' },
      { userId: user, type: 'x'.repeat(60), message: 'too long type' },
    ]),
    400,
    'bulk with a too long value',
  );
  // The row cap is checked before any row is validated; nothing is written.
  const tooMany = Array.from({ length: 1001 }, () => ({ userId: user, type: 'email', message: 'm' }));
  expectError(await call('POST', '/notifications/bulk', tooMany), 413, 'bulk over 1000 rows');
  expectError(await call('POST', '/notifications/bulk', []), 400, 'empty bulk');
  expectError(await call('POST', '/notifications/bulk', { userId: user }), 400, 'bulk body that is not an array');
  assert.equal((await sql.query('SELECT count(*)::int AS n FROM notifications')).rows[0].n, before, 'nothing written');

  const base = `/notifications?userId=eq.${user}&sort=priority,-type`;
  const all = expectStatus(await call('GET', `${base}&limit=100&count=exact`), 200, 'all').body;
  assert.equal(all.meta.count, 23);
  const expected = all.data.map((n) => n.id);
  const prios = all.data.map((n) => n.priority);
  assert.deepEqual(
    prios,
    [...prios].sort((a, b) => a - b),
    'sorted by priority',
  );
  assertSameSequence(await walkCursor(base, (n) => n.id, 4), expected, 'cursor pages');
  assertSameSequence(await walkOffset(base, (n) => n.id, 4), expected, 'offset pages');
  assertSameSequence(
    await walkCursor(`/notifications?userId=eq.${user}&sort=title`, (n) => n.id, 5),
    expectStatus(await call('GET', `/notifications?userId=eq.${user}&sort=title&limit=100`), 200, 'nullable sort').body.data.map(
      (n) => n.id,
    ),
    'cursor pages over a nullable sort key',
  );
  assertSameSequence(
    await walkCursor(`/notifications?userId=eq.${user}&sort=-title`, (n) => n.id, 3),
    expectStatus(await call('GET', `/notifications?userId=eq.${user}&sort=-title&limit=100`), 200, 'nullable sort desc').body.data.map(
      (n) => n.id,
    ),
    'cursor pages over a nullable sort key, descending',
  );

  const three = expectStatus(
    await call('GET', `/notifications?userId=eq.${user}&type=in.(email,sms)&priority=gte.1&message=like.m*&count=exact`),
    200,
    'three operators',
  ).body;
  assert.ok(three.data.every((n) => ['email', 'sms'].includes(n.type) && n.priority >= 1));
  assert.equal(three.meta.count, three.data.length);
  const est = expectStatus(await call('GET', `/notifications?userId=eq.${user}&count=estimated&limit=1`), 200, 'estimated count').body;
  assert.equal(typeof est.meta.count, 'number');

  expectError(await call('GET', '/notifications?priority=gte.abc'), 400, 'bad filter value');
  expectError(await call('GET', '/notifications?priority=between.1'), 400, 'unknown operator');
  expectError(await call('GET', '/notifications?nope=eq.1'), 400, 'unknown field');
  expectError(await call('GET', '/notifications?sort=nope'), 400, 'unknown sort key');
  expectError(await call('GET', '/notifications?limit=0'), 400, 'limit 0');
  expectError(await call('GET', '/notifications?limit=100000'), 400, 'limit too large');
  expectError(await call('GET', '/notifications?cursor=garbage'), 400, 'garbage cursor');
  const page = expectStatus(await call('GET', `${base}&limit=2`), 200, 'page').body;
  expectError(
    await call('GET', `/notifications?sort=type&cursor=${encodeURIComponent(page.meta.nextCursor)}`),
    400,
    'cursor for another sort',
  );
  expectError(await call('GET', `${base}&cursor=${encodeURIComponent(page.meta.nextCursor)}&offset=2`), 400, 'cursor with offset');
  expectError(await call('GET', `${base}&offset=100001`), 400, 'offset beyond the cap');
  expectError(await call('GET', '/notifications?withDeleted=true'), 400, 'no soft delete here');

  const n = created[0];
  expectStatus(
    await call('PATCH', `/notifications/${n.id}`, { status: 'sent', sentAt: '2024-05-01T10:00:00Z' }),
    200,
    'patch notification',
  );
  expectError(await call('PATCH', `/notifications/${n.id}`, { sentAt: 'yesterday' }), 400, 'bad timestamp');
  expectStatus(await call('DELETE', `/notifications/${n.id}`), 204, 'hard delete');
  expectError(await call('GET', `/notifications/${n.id}`), 404, 'deleted');
});

test('events: appended through their stream, listed and filtered like any table, never changed', async () => {
  const agg = uuid();
  const append = async (body, what, status = 201) => expectStatus(await call('POST', `/events/${agg}/events`, body), status, what);
  const e1 = (
    await append(
      { aggregateType: 'Order', expectedVersion: 0, events: [{ type: 'order.placed', data: { total: '10.00', items: [1, 2] } }] },
      'append',
    )
  ).body.data[0];
  assert.deepEqual(e1.data, { total: '10.00', items: [1, 2] });
  assert.deepEqual(e1.metadata, {}, 'the column default');
  assert.equal(e1.version, 1);
  expectError(
    await call('POST', `/events/${agg}/events`, { expectedVersion: 0, events: [{ type: 'order.placed', data: {} }] }),
    409,
    'a stale version',
  );
  expectError(await call('POST', `/events/${agg}/events`, { events: [{ type: 'x' }] }), 400, 'missing event data');
  await append({ expectedVersion: 1, events: [{ type: 'order.paid', data: { paid: true } }] }, 'event 2');
  const list = expectStatus(
    await call('GET', `/events?aggregateId=eq.${agg}&eventData=cs.{"paid":true}&version=gt.1`),
    200,
    'jsonb filter',
  ).body;
  assert.equal(list.data.length, 1);
  const sorted = expectStatus(await call('GET', `/events?aggregateId=eq.${agg}&sort=-version`), 200, 'sorted').body;
  assert.deepEqual(
    sorted.data.map((e) => e.version),
    [2, 1],
  );
  expectError(
    await call('POST', '/events', { eventType: 'x', aggregateId: agg, aggregateType: 'Order', eventData: {}, version: 3 }),
    404,
    'no create route',
  );
  expectError(await call('PATCH', `/events/${e1.id}`, { eventType: 'changed' }), 404, 'no update route');
  expectError(await call('DELETE', `/events/${e1.id}`), 404, 'no delete route');
  // The generated user_summary projection: a user.created event starts the user's row.
  const user = uuid();
  expectStatus(
    await call('POST', `/events/${user}/events`, {
      aggregateType: 'User',
      events: [{ type: 'user.created', data: { email: 'pro@example.com', name: 'Pro' } }],
    }),
    201,
    'user.created',
  );
  let row;
  for (let i = 0; i < 100 && !row; i++) {
    const r = await call('GET', `/user-summary/${user}`);
    if (r.status === 200) row = r.body.data;
    else await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(row, 'the projection caught up');
  assert.equal(row.email, 'pro@example.com');
  assert.equal(row.name, 'Pro');
  assert.equal(row.lastEventVersion, 1);
});

test('metrics: no key, append-only, cursor over ties', async () => {
  const rows = [];
  for (let i = 0; i < 14; i++) {
    rows.push({ time: `2024-03-0${(i % 4) + 1}T10:00:00Z`, metricName: 'latency', value: i * 1.5, tags: { host: `h${i % 2}` } });
  }
  expectStatus(await call('POST', '/metrics/bulk', rows), 201, 'bulk metrics');
  const one = expectStatus(
    await call('POST', '/metrics', { time: '2024-03-09T00:00:00.123456Z', metricName: 'latency', value: 99.25 }),
    201,
    'metric',
  ).body.data;
  assert.equal(one.time, '2024-03-09T00:00:00.123456+00:00', 'microseconds kept');
  const all = expectStatus(await call('GET', '/metrics?metricName=eq.latency&sort=time&limit=100'), 200, 'all').body.data;
  assert.equal(all.length, 15);
  const keyOf = (m) => `${m.time}|${m.value}`;
  assertSameSequence(await walkCursor('/metrics?metricName=eq.latency&sort=time', keyOf, 4), all.map(keyOf), 'cursor pages with ties');
  assertSameSequence(await walkOffset('/metrics?metricName=eq.latency&sort=time', keyOf, 4), all.map(keyOf), 'offset pages');
  const hosts = expectStatus(
    await call('GET', '/metrics?tags=cs.{"host":"h1"}&value=gte.3&time=lt.2024-03-05'),
    200,
    'jsonb + numbers + time',
  ).body.data;
  assert.ok(hosts.length > 0 && hosts.every((m) => m.tags.host === 'h1' && m.value >= 3));
  expectStatus(await call('GET', '/metrics/anything'), 404, 'no get-one route without a key');
  expectStatus(await call('PATCH', '/metrics/anything', { value: 1 }), 404, 'no update route');
  expectStatus(await call('DELETE', '/metrics/anything'), 404, 'no delete route');
  expectStatus(await call('GET', '/metrics-hourly'), 200, 'materialized view is readable');
  expectStatus(await call('POST', '/metrics-hourly', {}), 404, 'views are read-only');
});

test('no secret in any response body or response schema', async () => {
  const doc = (await call('GET', '/docs-json')).body;
  const secretProps = ['passwordHash', 'twoFactorSecret', 'shareToken'];
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    const props = Object.keys(schema.properties ?? {});
    if (name.startsWith('Create') || name.startsWith('Update')) {
      for (const p of props.filter((p) => secretProps.includes(p))) {
        assert.equal(schema.properties[p].writeOnly, true, `${name}.${p} is writeOnly`);
      }
    } else {
      for (const p of secretProps) assert.ok(!props.includes(p), `response schema ${name} exposes ${p}`);
    }
  }
  // Every resource's list, whatever ran before: all answer, none leaks.
  // (The event store's feed and processors, a time series' buckets and storage report are
  // reads of their own, not resources.)
  const lists = Object.entries(doc.paths).filter(([, item]) => item.get?.operationId?.startsWith('list'));
  assert.equal(lists.length, 26, `one list route per resource: ${lists.map(([p]) => p).join(' ')}`);
  for (const [path] of lists) {
    const soft = doc.paths[path].get.parameters?.some((p) => p.name === 'withDeleted');
    const deleted = soft ? '&withDeleted=true' : '';
    expectStatus(await call('GET', `${path}?limit=100${deleted}`), 200, `GET ${path}`);
    // Its export and aggregate answer too (and are in the scan below).
    expectStatus(await call('GET', `${path}/export?format=ndjson${deleted}`), 200, `GET ${path}/export`);
    expectStatus(await call('GET', `${path}/export?format=csv${deleted}`), 200, `GET ${path}/export`);
    expectStatus(await call('GET', `${path}/aggregate?agg=count${deleted}`), 200, `GET ${path}/aggregate`);
  }
  for (const body of seenBodies.filter((b) => !b.startsWith('{"openapi"'))) {
    for (const s of [SECRET_HASH, SECRET_TOTP, SECRET_SHARE, '"passwordHash"', '"twoFactorSecret"', '"shareToken"']) {
      assert.ok(!body.includes(s), `a response contains ${s}: ${body.slice(0, 200)}`);
    }
    // The audit trail names secret columns, with their values masked.
    assert.ok(
      !/"(password_hash|two_factor_secret|share_token)":"(?!\*\*\*")/.test(body),
      `a response carries a secret column's value: ${body.slice(0, 300)}`,
    );
  }
});

test('OpenAPI documents what the routes do', async () => {
  const doc = (await call('GET', '/docs-json')).body;
  const ops = (path) => Object.keys(doc.paths[path] ?? {}).sort();
  assert.deepEqual(ops('/users'), ['get', 'post']);
  assert.deepEqual(ops('/users/{id}'), ['delete', 'get', 'patch']);
  assert.deepEqual(ops('/users/{id}/restore'), ['post']);
  assert.deepEqual(ops('/users/bulk'), ['post']);
  assert.deepEqual(ops('/role-permissions/{roleId}/{permissionId}'), ['delete', 'get']);
  assert.deepEqual(ops('/metrics'), ['get', 'post']);
  assert.equal(doc.paths['/metrics/{id}'], undefined);
  assert.deepEqual(ops('/metrics-hourly'), ['get']);
  assert.deepEqual(ops('/v1/organizations'), ['get', 'post']);
  const params = doc.paths['/users'].get.parameters.map((p) => p.name);
  for (const p of ['email', 'status', 'createdAt', 'sort', 'limit', 'offset', 'cursor', 'count', 'withDeleted']) {
    assert.ok(params.includes(p), `list parameter ${p} documented`);
  }
  assert.ok(!params.includes('passwordHash'), 'no filter on a secret');
  const emailDoc = doc.paths['/users'].get.parameters.find((p) => p.name === 'email').description;
  assert.match(emailDoc, /ilike/);
  const create = doc.components.schemas.CreateUserDto;
  assert.deepEqual([...create.required].sort(), ['email', 'name', 'passwordHash']);
  assert.equal(create.properties.email.maxLength, 255);
  assert.equal(doc.paths['/users'].post.responses['201'] !== undefined, true);
  assert.ok(doc.paths['/users/{id}'].delete.responses['204']);
  assert.ok(doc.paths['/users/{id}'].get.responses['404']);
  // Operation ids client generators turn into method names: one per operation, unique, camelCase.
  const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
  assert.ok(ids.length > 100, `${ids.length} operations`);
  for (const id of ids) assert.match(id ?? '', /^[a-z][A-Za-z0-9]*$/, `operation id ${id}`);
  assert.equal(new Set(ids).size, ids.length, `duplicate operation ids: ${ids.filter((x, i) => ids.indexOf(x) !== i)}`);
  const id = (path, method) => doc.paths[path][method].operationId;
  assert.deepEqual(
    [
      id('/users', 'get'),
      id('/users', 'post'),
      id('/users/bulk', 'post'),
      id('/users/{id}', 'get'),
      id('/users/{id}', 'patch'),
      id('/users/{id}', 'delete'),
      id('/users/{id}/restore', 'post'),
    ],
    ['listUsers', 'createUser', 'bulkCreateUsers', 'getUser', 'updateUser', 'deleteUser', 'restoreUser'],
  );
  assert.equal(id('/v1/organizations', 'get'), 'listOrganizations');
  assert.ok(doc.paths['/users'].post.summary.startsWith('Create a user'), doc.paths['/users'].post.summary);
  assert.deepEqual(
    doc.servers?.map((s) => s.url),
    ['/'],
  );
  assert.deepEqual(undocumentedSuccess(doc), [], 'every operation documents its success answer');
  assert.deepEqual(undocumentedErrors(doc), [], 'every operation that takes input documents 400');
  // List parameters are typed: filters repeatable, each value an allowed operator then a value;
  // paging bounded integers; sort a list of the sortable fields.
  const p = (name) => doc.paths['/users'].get.parameters.find((x) => x.name === name);
  assert.equal(p('email').schema.type, 'array');
  assert.equal(p('email').explode, true);
  const emailOp = new RegExp(p('email').schema.items.pattern);
  for (const ok of ['eq.ada@example.com', 'ilike.*ada*', 'not.in.(a,b)', 'is.null']) assert.match(ok, emailOp);
  for (const bad of ['ada@example.com', 'foo.x', 'not.cs.{a}', 'EQ.x']) assert.doesNotMatch(bad, emailOp);
  // A value must have the field's form, as the server parses it: a UUID for a uuid column.
  const idOp = new RegExp(p('id').schema.items.pattern);
  for (const ok of ['eq.0190a000-0000-7000-8000-000000000001', 'in.(0190a000-0000-7000-8000-000000000001)', 'is.notnull'])
    assert.match(ok, idOp);
  for (const bad of ['eq.', 'eq.nope', 'in.()', 'like.x']) assert.doesNotMatch(bad, idOp);
  const bulk = doc.paths['/users/bulk'].post.requestBody.content['application/json'].schema;
  assert.deepEqual([bulk.type, bulk.minItems, bulk.maxItems], ['array', 1, 1000]);
  assert.deepEqual(p('limit').schema, { type: 'integer', minimum: 1, maximum: 100, default: 20 });
  assert.deepEqual(p('offset').schema, { type: 'integer', minimum: 0, maximum: 100000 });
  const sortRe = new RegExp(p('sort').schema.pattern);
  assert.match('-createdAt,email', sortRe);
  assert.doesNotMatch('passwordHash', sortRe);
  // What the document allows, the server takes: every list with a documented sort and a filter
  // value its pattern accepts answers 200.
  const r = await call('GET', '/users?email=ilike.*example*&sort=-createdAt,email&limit=5&offset=0');
  expectStatus(r, 200, 'a request shaped by the document');
});

test('statements stay prepared across a schema change that alters a result type', async () => {
  // Parameterized statements run as named prepared statements on each pooled connection; a
  // column whose type changes under them (DDL while the app runs) makes PostgreSQL refuse them
  // ("cached plan must not change result type"): the app runs such a statement again unnamed.
  const org = expectStatus(await call('POST', '/v1/organizations', { name: 'Prepared', slug: 'prepared' }), 201, 'org').body.data;
  const p = expectStatus(
    await call('POST', '/v1/projects', { organizationId: org.id, name: 'Kept', description: 'same text' }),
    201,
    'project',
  ).body.data;
  const path = `/v1/projects/${p.id}`;
  const list = `/v1/projects?organizationId=eq.${org.id}`;
  // On every connection of the pool (10 by default): the statements are prepared there.
  await Promise.all(Array.from({ length: 30 }, () => call('GET', path)));
  await Promise.all(Array.from({ length: 30 }, () => call('GET', list)));
  await sql.query('ALTER TABLE projects ALTER COLUMN description TYPE varchar(2000)');
  try {
    const after = await Promise.all(Array.from({ length: 30 }, () => call('GET', path)));
    for (const r of after) assert.equal(expectStatus(r, 200, 'get after the type change').body.data.description, 'same text');
    const lists = await Promise.all(Array.from({ length: 30 }, () => call('GET', list)));
    for (const r of lists)
      assert.deepEqual(
        expectStatus(r, 200, 'list after the type change').body.data.map((x) => x.id),
        [p.id],
      );
  } finally {
    await sql.query('ALTER TABLE projects ALTER COLUMN description TYPE text');
  }
});

test('a URL the router refuses answers 400 like any bad request, without echoing the URL', async () => {
  // Bad percent-encoding, and a key longer than the router takes (Fastify answered these itself:
  // its own body quoting the URL, query string included, no request id, no security headers).
  for (const path of ['/users/%ZZ?token=SECRET', `/users/${'a'.repeat(2001)}?token=SECRET`]) {
    const r = await fetch(BASE + path);
    const text = await r.text();
    assert.equal(r.status, 400, `${path.slice(0, 20)}: ${text}`);
    const body = JSON.parse(text);
    assert.equal(body.error, 'Bad Request');
    assert.ok(body.requestId, 'a request id');
    assert.equal(r.headers.get('x-request-id'), body.requestId);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', 'security headers');
    assert.ok(!text.includes('SECRET') && !text.includes('%ZZ'), text);
  }
  // A long natural key up to the limit still reaches the route (404: no such row).
  const long = await call('GET', `/users/${'a'.repeat(300)}`);
  assert.equal(long.status, 400, 'users are keyed by UUID: a malformed key is 400 from the route itself');
  assert.notEqual(long.body.message, 'the URL is not valid');
});
