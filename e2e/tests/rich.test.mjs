// A schema with the types and shapes real databases have (fixtures/pg/rich.sql): enums and
// enum arrays, domains, identity and serial keys, composite bigint keys, a quoted mixed-case
// column, partitions, views, bytea, xml, numeric without limits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, expectError, expectStatus } from './lib.mjs';

test('people: identity key, enums, enum arrays, domains, generated column', async () => {
  const p = expectStatus(
    await call('POST', '/people', {
      email: 'ann@example.com',
      mood: 'sad',
      moods: ['happy', "it's ok"],
      score: '12.50',
      qty: 2,
      tags: ['a', 'b'],
      t: '10:00:00+02',
      status: 'active',
      data: { k: [1, 2] },
      ch: 'ab',
      bits: '101',
      iv: '1 day',
      weirdCol: 'w',
    }),
    201,
    'create person',
  ).body.data;
  assert.equal(typeof p.id, 'string', 'bigint identity as string');
  assert.deepEqual(p.moods, ['happy', "it's ok"], 'enum arrays parsed');
  assert.equal(p.fullName, 'ann@example.com x', 'generated column returned');
  expectError(await call('POST', '/people', { email: 'b@example.com', mood: 'angry', status: 'active', data: {} }), 400, 'enum value');
  expectError(await call('POST', '/people', { email: 'b@example.com', status: 'paused', data: {} }), 400, 'CHECK (status IN ...)');
  expectError(
    await call('POST', '/people', { email: 'b@example.com', status: 'active', data: {}, id: '5' }),
    400,
    'identity is server-managed',
  );
  expectError(
    await call('POST', '/people', { email: 'b@example.com', status: 'active', data: {}, fullName: 'x' }),
    400,
    'generated column is read-only',
  );
  expectError(
    await call('POST', '/people', { email: 'b@example.com', status: 'active', data: {}, score: '123456789.123' }),
    400,
    'numeric(10,2) precision',
  );
  const list = expectStatus(
    await call('GET', `/people?moods=cs.${encodeURIComponent('{happy}')}&mood=eq.sad&score=gte.12.5&weirdCol=eq.w`),
    200,
    'filters',
  ).body.data;
  assert.equal(list.length, 1);
  expectStatus(await call('GET', `/people/${p.id}`), 200, 'get by bigint id');
  expectError(await call('GET', '/people/abc'), 400, 'malformed bigint id');
  const view = expectStatus(await call('GET', '/active-people?sort=-score'), 200, 'view').body.data;
  assert.deepEqual(Object.keys(view[0]).sort(), ['email', 'id', 'score']);
  expectStatus(await call('POST', '/active-people', {}), 404, 'views are read-only');
});

test('pets: composite bigint + text key; pet toys without a key', async () => {
  const owner = expectStatus(await call('POST', '/people', { email: 'owner@example.com', status: 'active', data: {} }), 201, 'owner').body
    .data;
  expectStatus(await call('POST', '/pets', { ownerId: owner.id, name: 'Rex the 2nd' }), 201, 'pet');
  expectStatus(await call('GET', `/pets/${owner.id}/${encodeURIComponent('Rex the 2nd')}`), 200, 'composite get');
  expectError(await call('POST', '/pets', { ownerId: owner.id, name: 'Rex the 2nd' }), 409, 'duplicate');
  // bigint: a JSON number is taken while it is exact; past 2^53 it must be a string.
  expectStatus(await call('POST', '/pets', { ownerId: Number(owner.id), name: 'Numbered' }), 201, 'bigint as a safe number');
  expectError(await call('POST', '/pets', { ownerId: 9007199254740993, name: 'Rounded' }), 400, 'bigint beyond 2^53 as a number');
  expectStatus(await call('POST', '/pet-toys', { ownerId: owner.id, petName: 'Rex the 2nd', toy: 'ball' }), 201, 'toy');
  expectError(await call('POST', '/pet-toys', { ownerId: owner.id, petName: 'Nobody', toy: 'ball' }), 409, 'composite FK');
  expectError(await call('DELETE', `/pets/${owner.id}/${encodeURIComponent('Rex the 2nd')}`), 409, 'still referenced by a toy');
});

test('partitioned logs are served through the parent; plain types round-trip', async () => {
  expectStatus(await call('POST', '/logs', { at: '2024-06-01T12:00:00Z', msg: 'in 2024' }), 201, 'log');
  expectError(await call('POST', '/logs', { at: '2030-06-01T12:00:00Z', msg: 'no partition' }), 400, 'outside every partition');
  expectStatus(await call('GET', '/logs-2024'), 404, 'partitions have no route');
  const r = expectStatus(
    await call('POST', '/plain', {
      n: 7,
      f: 1.5,
      d: 2.25,
      b: true,
      ts: '2024-01-01T00:00:00.123456',
      dt: '2024-02-29',
      by: 'aGVsbG8=',
      ip: '10.0.0.1',
      x: '<a/>',
      num: '1.23456789012345678901234567890',
    }),
    201,
    'plain',
  ).body.data;
  assert.equal(r.num, '1.23456789012345678901234567890', 'numeric keeps every digit');
  assert.equal(r.ts, '2024-01-01T00:00:00Z', 'timestamp(0) keeps whole seconds; naive timestamps are UTC');
  // An offset is converted to UTC, not cut off (PostgreSQL alone would store 10:00).
  const shifted = expectStatus(await call('POST', '/plain', { ts: '2024-01-01T10:00:00+02:00' }), 201, 'timestamp with an offset').body
    .data;
  assert.equal(shifted.ts, '2024-01-01T08:00:00Z');
  const found = expectStatus(
    await call('GET', `/plain?ts=eq.${encodeURIComponent('2024-01-01T09:00:00+01:00')}`),
    200,
    'filter with an offset',
  ).body.data;
  assert.deepEqual(
    found.map((x) => x.id),
    [shifted.id],
  );
  expectStatus(await call('PATCH', `/plain/${shifted.id}`, { ts: '2024-01-01T08:00:00-05:00' }), 200, 'patch with an offset');
  assert.equal(expectStatus(await call('GET', `/plain/${shifted.id}`), 200, 'get').body.data.ts, '2024-01-01T13:00:00Z');
  assert.equal(r.by, 'aGVsbG8=');
  // json (not jsonb) columns filter by containment too.
  const withJson = expectStatus(await call('POST', '/plain', { j: { kind: 'json', n: 1 } }), 201, 'json column').body.data;
  const byJson = expectStatus(await call('GET', `/plain?j=cs.${encodeURIComponent('{"kind":"json"}')}`), 200, 'json containment').body.data;
  assert.deepEqual(
    byJson.map((x) => x.id),
    [withJson.id],
  );
  // created_at without a default is stamped by the app (and cannot be forged).
  const stamped = expectStatus(await call('POST', '/stamps', { label: 'one' }), 201, 'stamp').body.data;
  assert.ok(stamped.createdAt && Math.abs(Date.parse(stamped.createdAt) - Date.now()) < 60_000, `createdAt ${stamped.createdAt}`);
  expectError(await call('POST', '/stamps', { label: 'two', createdAt: '2000-01-01T00:00:00Z' }), 400, "createdAt is the server's");
  const bulkStamped = expectStatus(await call('POST', '/stamps/bulk', [{ label: 'a' }, { label: 'b' }]), 201, 'bulk stamps').body.data;
  assert.ok(bulkStamped.every((x) => x.createdAt !== null));
  expectError(await call('POST', '/plain', { n: 70000 }), 400, 'smallint range');
  expectError(await call('POST', '/plain', { dt: '2024-02-30' }), 400, 'impossible date');
  expectError(await call('POST', '/plain', { by: 'not base64!' }), 400, 'bytea as base64');
});
