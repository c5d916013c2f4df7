// Conditional requests (RFC 9110) on the seed's CRUD, run with crud.test.mjs: GET of a row and of
// a list page carries an ETag and answers 304 to If-None-Match; PATCH, DELETE and restore with
// If-Match change the row only while it still has that ETag (412 otherwise), checked on the row
// locked in the change's own transaction — two concurrent edits from the same ETag: one wins.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BASE, call, expectStatus } from './lib.mjs';

async function raw(method, path, { body, headers = {} } = {}) {
  const r = await fetch(`${BASE}${path}`, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, body: text ? JSON.parse(text) : undefined };
}

test('ETag on GET of a row and a list; If-None-Match → 304; a change gives a new ETag', async () => {
  const u = expectStatus(await call('POST', '/users', { email: 'etag@conditional.test', passwordHash: 'h', name: 'E Tag' }), 201, 'user')
    .body.data;
  const first = await raw('GET', `/users/${u.id}`);
  assert.equal(first.status, 200);
  const etag = first.headers.get('etag');
  assert.match(etag, /^"[A-Za-z0-9_-]{27}"$/);
  assert.match(first.headers.get('cache-control'), /no-cache/);
  const again = await raw('GET', `/users/${u.id}`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  assert.equal(again.text, '', 'no body');
  assert.equal(again.headers.get('etag'), etag);
  assert.equal(
    (await raw('GET', `/users/${u.id}`, { headers: { 'if-none-match': `W/${etag}, "other"` } })).status,
    304,
    'weak comparison, lists',
  );
  const list = await raw('GET', '/users?email=eq.etag@conditional.test');
  const listTag = list.headers.get('etag');
  assert.equal((await raw('GET', '/users?email=eq.etag@conditional.test', { headers: { 'if-none-match': listTag } })).status, 304);
  expectStatus(await call('PATCH', `/users/${u.id}`, { name: 'E. Tag' }), 200, 'change');
  const after = await raw('GET', `/users/${u.id}`, { headers: { 'if-none-match': etag } });
  assert.equal(after.status, 200, 'changed: the old ETag no longer matches');
  assert.notEqual(after.headers.get('etag'), etag);
  assert.notEqual(
    (await raw('GET', '/users?email=eq.etag@conditional.test', { headers: { 'if-none-match': listTag } })).status,
    304,
    'the list page changed too',
  );
});

test('If-Match: the change is made only while the row has the ETag the client read (412 otherwise)', async () => {
  const u = expectStatus(
    await call('POST', '/users', { email: 'ifmatch@conditional.test', passwordHash: 'h', name: 'If Match' }),
    201,
    'user',
  ).body.data;
  const etag = (await raw('GET', `/users/${u.id}`)).headers.get('etag');
  const stale = await raw('PATCH', `/users/${u.id}`, { body: { name: 'A' }, headers: { 'if-match': '"not-the-etag-of-this-row-00"' } });
  assert.equal(stale.status, 412, stale.text);
  assert.equal(stale.body.error, 'Precondition Failed');
  assert.equal(stale.body.details.etag, etag, 'the 412 says the current ETag');
  assert.equal((await raw('GET', `/users/${u.id}`)).body.data.name, 'If Match', 'nothing changed');
  // Two edits from the same read, at once: exactly one wins, the other is told the row moved on.
  const both = await Promise.all(
    ['B', 'C'].map((name) => raw('PATCH', `/users/${u.id}`, { body: { name }, headers: { 'if-match': etag } })),
  );
  assert.deepEqual(both.map((r) => r.status).sort(), [200, 412], both.map((r) => r.text).join(' | '));
  const winner = both.find((r) => r.status === 200).body.data.name;
  const now = await raw('GET', `/users/${u.id}`);
  assert.equal(now.body.data.name, winner);
  // The new ETag works; a delete under the old one is refused, under the current one accepted.
  assert.equal((await raw('DELETE', `/users/${u.id}`, { headers: { 'if-match': etag } })).status, 412);
  assert.equal((await raw('DELETE', `/users/${u.id}`, { headers: { 'if-match': now.headers.get('etag') } })).status, 204);
  // Restore: against the deleted row as GET ?withDeleted=true shows it.
  const gone = await raw('GET', `/users/${u.id}?withDeleted=true`);
  assert.equal(
    (await raw('POST', `/users/${u.id}/restore`, { headers: { 'if-match': now.headers.get('etag') } })).status,
    412,
    'the ETag from before the delete',
  );
  assert.equal((await raw('POST', `/users/${u.id}/restore`, { headers: { 'if-match': gone.headers.get('etag') } })).status, 200);
  // A list of ETags matches when any of them is current (RFC 9110 If-Match).
  const listed = await raw('GET', `/users/${u.id}`);
  const either = await raw('PATCH', `/users/${u.id}`, {
    body: { name: 'Listed' },
    headers: { 'if-match': `"not-this-one-0000000000000", ${listed.headers.get('etag')}` },
  });
  assert.equal(either.status, 200, either.text);
  // Without If-Match, changes go through as before; `*` matches any existing row.
  expectStatus(await call('PATCH', `/users/${u.id}`, { name: 'Plain' }), 200, 'no precondition');
  assert.equal((await raw('PATCH', `/users/${u.id}`, { body: { name: 'Star' }, headers: { 'if-match': '*' } })).status, 200);
});

test('a table that requires If-Match (require_if_match in the config): changes without it are 428', async () => {
  const t = expectStatus(
    await call('POST', '/notification-templates', { name: 'cond', type: 'email', bodyTemplate: 'Hi {{name}}' }),
    201,
    'template',
  ).body.data;
  const bare = await raw('PATCH', `/notification-templates/${t.id}`, { body: { subject: 'x' } });
  assert.equal(bare.status, 428, bare.text);
  assert.equal(bare.body.error, 'Precondition Required');
  assert.equal((await raw('DELETE', `/notification-templates/${t.id}`)).status, 428);
  const etag = (await raw('GET', `/notification-templates/${t.id}`)).headers.get('etag');
  assert.equal(
    (await raw('PATCH', `/notification-templates/${t.id}`, { body: { subject: 'x' }, headers: { 'if-match': etag } })).status,
    200,
  );
  const doc = expectStatus(await call('GET', '/docs-json'), 200, 'docs').body;
  const patch = doc.paths['/notification-templates/{id}'].patch;
  assert.ok(
    patch.parameters.some((p) => p.in === 'header' && p.name === 'If-Match' && p.required === true),
    'OpenAPI: If-Match required',
  );
  assert.ok(patch.responses['428'] && patch.responses['412'], 'OpenAPI: 428 and 412');
});
