// Tables' modules loaded on their first request (app.module.ts's LAZY_MODULES,
// core/http/lazy-modules.ts), against the seed app made with `[project] lazy_modules = true`.
// Run first, on the app as it booted: no table's module is loaded yet. (The suites run after it
// on the same app go through the lazily loaded routes too.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { call, expectError, expectStatus, uuid } from './lib.mjs';

const lazyPaths = () => {
  const text = readFileSync(join(process.env.PROJECT_DIR, 'src/app.module.ts'), 'utf8');
  return [...text.matchAll(/path: '([^']+)'/g)].map((m) => m[1]);
};

async function accessLog(requestId) {
  for (let i = 0; i < 100; i++) {
    const entry = readFileSync(process.env.APP_LOG, 'utf8')
      .split('\n')
      .filter((l) => l.includes(requestId) && l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((e) => e.context === 'http');
    if (entry) return entry;
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.fail(`no access log entry for ${requestId}`);
}

test('the app module imports no table module; LAZY_MODULES lists every table', () => {
  const text = readFileSync(join(process.env.PROJECT_DIR, 'src/app.module.ts'), 'utf8');
  assert.doesNotMatch(text, /^import \{[^}]*\} from '\.\/modules\//m, 'no static import of a table module');
  const paths = lazyPaths();
  assert.equal(paths.length, 26, paths.join(', '));
  assert.ok(paths.includes('v1/projects'), 'versioned routes keep their version');
});

test('concurrent first requests to a module load it once and all get their answer', async () => {
  const answers = await Promise.all(Array.from({ length: 24 }, () => call('GET', '/folders?limit=5&sort=id')));
  for (const a of answers) expectStatus(a, 200, 'a first request');
  assert.ok(
    answers.every((a) => a.text === answers[0].text),
    'every answer the same',
  );
  // Nest logs each controller it maps: once (the log reaches the file a little later).
  const built = () => readFileSync(process.env.APP_LOG, 'utf8').match(/FoldersController \{\/folders\}/g)?.length ?? 0;
  for (let i = 0; i < 100 && built() === 0; i++) await new Promise((res) => setTimeout(res, 20));
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(built(), 1, 'the module was built once');
});

test('HEAD answers as GET without a body; methods and paths of no route are the app 404', async () => {
  const get = expectStatus(await call('GET', '/roles?limit=3'), 200, 'GET');
  const head = expectStatus(await call('HEAD', '/roles?limit=3'), 200, 'HEAD');
  assert.equal(head.text, '');
  assert.equal(head.headers.get('etag'), get.headers.get('etag'));
  assert.match(head.headers.get('content-type'), /^application\/json/);
  assert.equal(head.headers.get('x-content-type-options'), 'nosniff', 'security headers');
  for (const [method, path] of [
    ['PUT', '/roles'],
    ['GET', '/roles/a/b/c/d'],
    ['GET', '/roles/'],
    ['POST', '/roles/aggregate'],
    ['GET', '/no-such-table'],
    ['GET', '/no-such-table/x'],
    ['GET', '/v1/no-such-table'],
  ]) {
    expectError(await call(method, path), 404, `${method} ${path}`);
  }
  // A path written with escapes reaches its module before it is loaded as after.
  expectStatus(await call('GET', '/%75ser-permissions?limit=1'), 200, 'an escaped first segment, cold');
  // An unloaded module's unknown path loads it and is still a 404; its known ones then answer.
  expectError(await call('GET', '/file-versions/x/y/z'), 404, 'unknown path below a cold module');
  expectStatus(await call('GET', '/file-versions?limit=1'), 200, 'then its list');
});

test('validation, key parsing and errors are those of a module loaded at boot', async () => {
  const bad = expectError(await call('POST', '/notification-preferences', { nope: 1 }), 400, 'unknown field');
  assert.match(JSON.stringify(bad.body), /nope/);
  expectError(await call('GET', '/permissions/not-a-uuid'), 400, 'a key of the wrong type');
  expectError(await call('GET', `/permissions/${uuid()}`), 404, 'an unknown key');
  expectError(await call('GET', `/v1/organizations/${uuid()}`), 404, 'a versioned route');
});

test('the access log names the lazily loaded route by its pattern, and no route as (no route)', async () => {
  const id = `lazy-${Date.now()}`;
  expectError(await call('GET', `/user-roles/${uuid()}/${uuid()}`, undefined, { headers: { 'x-request-id': `${id}-a` } }), 404, 'miss');
  assert.equal((await accessLog(`${id}-a`)).path, '/user-roles/:userId/:roleId');
  await call('GET', '/user-roles/x;jsessionid=SECRETSEMI/y/z', undefined, { headers: { 'x-request-id': `${id}-b` } });
  assert.equal((await accessLog(`${id}-b`)).path, '(no route)');
  await call('GET', '/nothing-here/abc%3Ftoken=SECRETENC', undefined, { headers: { 'x-request-id': `${id}-c` } });
  assert.equal((await accessLog(`${id}-c`)).path, '(no route)');
  assert.ok(!readFileSync(process.env.APP_LOG, 'utf8').includes('SECRET'), 'nothing from an unmatched path in the log');
});

test('the OpenAPI document describes every table, loaded or not', async () => {
  // Asked for in a form the router decodes (/%64ocs-json is /docs-json): it is built once.
  const doc = expectStatus(await call('GET', '/%64ocs-json'), 200, 'docs-json').body;
  assert.deepEqual(Object.keys(expectStatus(await call('GET', '/docs-json'), 200, 'docs-json').body.paths), Object.keys(doc.paths));
  const documented = Object.keys(doc.paths);
  for (const path of lazyPaths()) {
    assert.ok(
      documented.some((p) => p === `/${path}` || p.startsWith(`/${path}/`)),
      `/${path} in the document (${documented.length} paths)`,
    );
  }
});
