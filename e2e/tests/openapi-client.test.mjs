// The OpenAPI document as client generators see it, against the app generated from the seed:
// OpenAPI 3.1 in which Redocly's recommended rules find no error, and a TypeScript client made
// from it by @hey-api/openapi-ts that compiles under strict NodeNext settings and calls the app
// (every list route, and a user's whole life through typed calls).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BASE, call, expectStatus, openApiErrors } from './lib.mjs';

const bin = (name) => join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin', name);

const USE = `import { client } from './client/client.gen.js';
import * as sdk from './client/sdk.gen.js';

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
    assert.deepEqual(await use.userLife('client@example.com'), ['client@example.com', '1', 'Client Renamed', '204', '404', 'Client Renamed']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
