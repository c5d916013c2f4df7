// Signs in to a running generated app the way the project's own generated tests do, and prints
// the headers every later request needs (JSON: authorization, x-organization-id, ...).
//
//   node e2e/reliability/sign-in.mjs <project> <app base URL> <owner database URL>
//
// The project's tests must be compiled (`tsc -p tsconfig.test.json`): this runs their
// test/support/setup.js (`setUp`: the features' steps in order — super-admin role, an account
// registered and verified, an organization of its own) against the running app instead of an
// in-process one. A project without features that need it prints `{}`.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [project, base, ownerUrl] = process.argv.slice(2);
if (!project || !base || !ownerUrl) {
  console.error('usage: sign-in.mjs <project> <app base URL> <owner database URL>');
  process.exit(2);
}
const setupFile = resolve(project, 'dist-test/test/support/setup.js');
if (!existsSync(setupFile)) {
  console.log('{}');
  process.exit(0);
}
const pg = createRequire(resolve(project, 'package.json'))('pg');
const owner = new pg.Pool({ connectionString: ownerUrl, max: 2 });
const h = {
  owner,
  headers: {},
  onUser: [],
  async request(method, url, body, headers = {}) {
    const r = await fetch(base + url, {
      method,
      headers: { ...this.headers, ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined, headers: Object.fromEntries(r.headers) };
  },
  async close() {},
};
try {
  const { setUp } = await import(pathToFileURL(setupFile).href);
  await setUp(h);
  console.log(JSON.stringify(h.headers));
} finally {
  await owner.end();
}
