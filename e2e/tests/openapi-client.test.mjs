// The OpenAPI document as client generators see it, against the app generated from the seed:
// OpenAPI 3.1 in which Redocly's recommended rules find no error, and a TypeScript client made
// from it by @hey-api/openapi-ts that compiles under strict NodeNext settings and calls the app:
// every list route, a user's whole life through typed calls, and every route the project's own
// generated tests call (test/api.test.ts: each table's row made with the rows it references,
// read, found by its key, changed, deleted, restored), with the project's generated samples.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BASE, call, expectStatus, openApiErrors } from './lib.mjs';

/** The generated project the app was built from, its tests compiled (dist-test). */
const PROJECT = process.env.PROJECT_DIR;

const bin = (name) => join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin', name);

const USE = `import { client } from './client/client.gen.js';
import * as sdk from './client/sdk.gen.js';

export { sdk };

client.setConfig({ baseUrl: BASE });

type Loose = (options?: { throwOnError?: boolean }) => Promise<{ response: Response }>;

/** Every list operation, called without parameters: [operation, status]. */
export async function lists(): Promise<[string, number][]> {
  const out: [string, number][] = [];
  for (const [name, fn] of Object.entries(sdk)) {
    if (!/^list[A-Z]/.test(name)) continue;
    const r = await (fn as unknown as Loose)();
    out.push([name, r.response.status]);
  }
  return out;
}

/** A user created, read, found by a filter, changed, deleted and restored: typed calls only. */
export async function userLife(email: string): Promise<string[]> {
  const created = await sdk.createUser({ body: { email, passwordHash: 'client-hash', name: 'Client' }, throwOnError: true });
  const id: string = created.data.data.id;
  const got = await sdk.getUser({ path: { id }, throwOnError: true });
  const found = await sdk.listUsers({ query: { email: ['eq.' + email], limit: 5, count: 'exact' }, throwOnError: true });
  const changed = await sdk.updateUser({ path: { id }, body: { name: 'Client Renamed' }, throwOnError: true });
  const deleted = await sdk.deleteUser({ path: { id }, throwOnError: true });
  const gone = await sdk.getUser({ path: { id } });
  const restored = await sdk.restoreUser({ path: { id }, throwOnError: true });
  return [
    got.data.data.email,
    String(found.data.meta.count),
    changed.data.data.name,
    String(deleted.response.status),
    String(gone.response?.status),
    restored.data.data.name,
  ];
}
`;

test('the document is OpenAPI 3.1 in which Redocly finds no error', async () => {
  const doc = expectStatus(await call('GET', '/docs-json'), 200, 'docs-json').body;
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(await openApiErrors(doc), []);
  const text = JSON.stringify(doc);
  assert.ok(!text.includes('"nullable"'), '3.1 has no nullable: null is among the types');
  assert.ok(text.includes('"null"'), 'nullable fields carry null among their types');
});

test('a client generated from the document compiles and calls the app', async () => {
  const doc = expectStatus(await call('GET', '/docs-json'), 200, 'docs-json').body;
  const dir = mkdtempSync(join(tmpdir(), 'ng-client-'));
  try {
    writeFileSync(join(dir, 'doc.json'), JSON.stringify(doc));
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2022', 'DOM'],
          types: [],
          strict: true,
          noUnusedLocals: true,
          outDir: 'out',
        },
        include: ['client/**/*.ts', 'use.ts'],
      }),
    );
    writeFileSync(
      join(dir, 'openapi-ts.config.mjs'),
      "export default { input: 'doc.json', output: { path: 'client', module: { extension: '.js' } } };\n",
    );
    execFileSync(bin('openapi-ts'), { cwd: dir, stdio: 'pipe' });
    writeFileSync(join(dir, 'use.ts'), `const BASE = ${JSON.stringify(BASE)};\n${USE}`);
    try {
      execFileSync(bin('tsc'), ['-p', 'tsconfig.json'], { cwd: dir, stdio: 'pipe' });
    } catch (e) {
      assert.fail(`the generated client does not compile:\n${e.stdout}${e.stderr}`);
    }
    const use = await import(pathToFileURL(join(dir, 'out', 'use.js')).href);
    const lists = await use.lists();
    assert.ok(lists.length >= 20, `list operations: ${lists.length}`);
    assert.deepEqual(
      lists.filter(([, status]) => status !== 200),
      [],
      'every list route answers 200 through the client',
    );
    assert.deepEqual(await use.userLife('client@example.com'), [
      'client@example.com',
      '1',
      'Client Renamed',
      '204',
      '404',
      'Client Renamed',
    ]);
    assert.ok(PROJECT, 'PROJECT_DIR names the generated project (its compiled tests give the samples)');
    await everyTestedRoute(doc, use.sdk);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A stand-in for the generated tests' harness whose requests go through the generated client:
 * each (method, path) is matched to its operation in the document and called by operation id,
 * with the path's parameters, the query and the body. Returns the routes called.
 */
function clientHarness(doc, sdk) {
  const routes = Object.entries(doc.paths).map(([template, item]) => {
    const names = [];
    const pattern = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{([^}]+)\\?\}/g, (_, name) => {
      names.push(name);
      return '([^/]+)';
    });
    return { template, item, names, regex: new RegExp(`^${pattern}$`) };
  });
  const called = new Set();
  const h = {
    headers: {},
    onUser: [],
    async request(method, url, body, headers = {}) {
      const [pathname, search = ''] = url.split('?');
      const route = routes.find((r) => r.regex.test(pathname) && r.item[method.toLowerCase()]);
      assert.ok(route, `no operation for ${method} ${pathname} in the document`);
      const op = route.item[method.toLowerCase()].operationId;
      const fn = sdk[op];
      assert.equal(typeof fn, 'function', `the client has no ${op}`);
      const values = route.regex.exec(pathname).slice(1).map(decodeURIComponent);
      const query = {};
      for (const [k, v] of new URLSearchParams(search)) query[k] = k in query ? [].concat(query[k], v) : v;
      const r = await fn({
        path: Object.fromEntries(route.names.map((n, i) => [n, values[i]])),
        query,
        body,
        headers: { ...h.headers, ...headers },
      });
      called.add(`${method} ${route.template}`);
      return { status: r.response.status, body: r.data ?? r.error, headers: Object.fromEntries(r.response.headers) };
    },
  };
  return { h, called };
}

/** What test/api.test.ts does for every table it can make a row of, through the client. */
async function everyTestedRoute(doc, sdk) {
  const samples = await import(pathToFileURL(join(PROJECT, 'dist-test/test/support/samples.js')).href);
  const { h, called } = clientHarness(doc, sdk);
  const hasOp = (method, template) => Boolean(doc.paths[template]?.[method]);
  for (const [name, s] of Object.entries(samples.SAMPLES)) {
    const { row } = await samples.makeRow(h, name);
    const path = samples.rowPath(name, row);
    const got = await h.request('GET', path);
    assert.equal(got.status, 200, `${name}: GET ${path} ${JSON.stringify(got.body)}`);
    assert.deepEqual(got.body.data, row, name);
    const key = s.keys[0];
    const found = await h.request('GET', `${s.route}?${key}=eq.${encodeURIComponent(String(row[key]))}`);
    assert.equal(found.status, 200, `${name}: found by key ${JSON.stringify(found.body)}`);
    assert.ok(
      found.body.data.some((x) => x[key] === row[key]),
      name,
    );
    const template = Object.keys(doc.paths).find((t) => new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path));
    if (s.change && hasOp('patch', template)) {
      const change = s.change(1);
      const changed = await h.request('PATCH', path, change, { 'if-match': String(got.headers.etag) });
      assert.equal(changed.status, 200, `${name}: PATCH ${JSON.stringify(changed.body)}`);
    }
    if (hasOp('delete', template)) {
      const current = await h.request('GET', path);
      const deleted = await h.request('DELETE', path, undefined, { 'if-match': String(current.headers.etag) });
      assert.equal(deleted.status, 204, `${name}: DELETE ${JSON.stringify(deleted.body)}`);
      assert.equal((await h.request('GET', path)).status, 404, `${name}: read after delete`);
      if (hasOp('post', `${template}/restore`)) {
        const gone = await h.request('GET', `${path}?withDeleted=true`);
        const restored = await h.request('POST', `${path}/restore`, undefined, { 'if-match': String(gone.headers.etag) });
        assert.equal(restored.status, 200, `${name}: restore ${JSON.stringify(restored.body)}`);
      }
    }
  }
  // Every kind of operation the generated tests use went through the client.
  const list = [...called];
  for (const [what, test] of [
    ['a row read', (c) => c.startsWith('GET ') && c.includes('{')],
    ['a list filtered by key', (c) => c.startsWith('GET ') && !c.includes('{')],
    ['a create', (c) => c.startsWith('POST ') && !c.includes('{')],
    ['a change', (c) => c.startsWith('PATCH ')],
    ['a delete', (c) => c.startsWith('DELETE ')],
    ['a restore', (c) => c.startsWith('POST ') && c.endsWith('/restore')],
  ]) {
    assert.ok(list.some(test), `${what} through the client: ${list.join(', ')}`);
  }
  assert.ok(Object.keys(samples.SAMPLES).length >= 10, `tables the samples make: ${Object.keys(samples.SAMPLES).length}`);
}
