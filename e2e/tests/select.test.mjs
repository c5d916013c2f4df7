// `select=` on the seed's CRUD (issue 21): fields, embeds through foreign keys in both
// directions and nested, per-embed limit, sort and filters — each answer compared with what a
// hand-written SQL join returns — one SQL statement per request (counted on the wire between a
// second instance of the app and PostgreSQL), secrets never selectable, bad selections 400.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { DATABASE_URL, call, db, expectError, expectStatus } from './lib.mjs';

const tag = `sel${Date.now() % 100000}`;
let admin;
let editor;
let viewer;
const perms = [];

before(async () => {
  const role = async (name, parentRoleId) =>
    expectStatus(await call('POST', '/roles', { name: `${name} ${tag}`, slug: `${name}-${tag}`, parentRoleId }), 201, name).body.data;
  admin = await role('admin');
  editor = await role('editor', admin.id);
  viewer = await role('viewer', admin.id);
  for (const action of ['read', 'update', 'delete']) {
    const p = { name: `${action} ${tag}`, slug: `${tag}:${action}`, resource: tag, action };
    perms.push(expectStatus(await call('POST', '/permissions', p), 201, 'permission').body.data);
  }
  // admin: every permission; editor: read and update; viewer: read.
  for (const [r, n] of [
    [admin, 3],
    [editor, 2],
    [viewer, 1],
  ]) {
    for (const p of perms.slice(0, n)) {
      expectStatus(await call('POST', '/role-permissions', { roleId: r.id, permissionId: p.id }), 201, 'grant');
    }
  }
});

test('select narrows list and get to the fields asked for; secrets and unknown names are 400', async () => {
  const list = expectStatus(await call('GET', `/roles?select=name,slug&slug=eq.admin-${tag}`), 200, 'list').body.data;
  assert.deepEqual(list, [{ name: `admin ${tag}`, slug: `admin-${tag}` }]);
  const one = expectStatus(await call('GET', `/roles/${editor.id}?select=slug,parentRoleId`), 200, 'get').body.data;
  assert.deepEqual(one, { slug: `editor-${tag}`, parentRoleId: admin.id });
  // Paging by cursor still works when the sort key is not selected.
  const page = expectStatus(await call('GET', `/roles?select=name&sort=slug&slug=like.*${tag}&limit=2`), 200, 'page').body;
  assert.deepEqual(page.data.map(Object.keys), [['name'], ['name']]);
  const next = expectStatus(
    await call('GET', `/roles?select=name&sort=slug&slug=like.*${tag}&limit=2&cursor=${page.meta.nextCursor}`),
    200,
    'next',
  );
  assert.deepEqual(next.body.data, [{ name: `viewer ${tag}` }]);
  expectError(await call('GET', '/file-shares?select=id,shareToken'), 400, 'a write-only field is not selectable');
  expectError(await call('GET', '/files?select=id,fileShares(shareToken)'), 400, 'nor is it inside an embed');
  expectError(await call('GET', '/roles?select=name,nope'), 400, 'unknown field');
  expectError(await call('GET', '/roles?select=name,nope(id)'), 400, 'unknown embed');
  expectError(await call('GET', '/roles?select=name,roles(name'), 400, 'unbalanced');
  expectError(await call('GET', '/roles?select=name,roles(roles(roles(roles(id))))'), 400, 'too deep');
  expectError(await call('GET', '/roles?roles.limit=2'), 400, 'an embed parameter without the embed');
  expectError(await call('GET', '/roles?select=name,parentRole(name)&parentRole.limit=2'), 400, 'limit on a to-one embed');
  expectError(await call('GET', "/roles?select=name,roles(name)&roles.sort=');DROP TABLE roles;--"), 400, 'sort of an embed is checked');
});

test('embeds in both directions and nested equal a hand-written SQL join', async () => {
  const r = expectStatus(
    await call('GET', `/roles?select=slug,parentRole(slug),roles(slug),rolePermissions(permission(slug))&slug=like.*${tag}&sort=slug`),
    200,
    'embeds',
  ).body.data;
  const c = await db();
  try {
    const { rows } = await c.query(
      `SELECT r.slug,
              (SELECT json_build_object('slug', p.slug) FROM roles p WHERE p.id = r.parent_role_id) AS "parentRole",
              COALESCE((SELECT json_agg(json_build_object('slug', ch.slug) ORDER BY ch.id) FROM roles ch WHERE ch.parent_role_id = r.id), '[]') AS roles,
              COALESCE((SELECT json_agg(json_build_object('permission', json_build_object('slug', pm.slug)) ORDER BY rp.role_id, rp.permission_id)
                          FROM role_permissions rp JOIN permissions pm ON pm.id = rp.permission_id WHERE rp.role_id = r.id), '[]') AS "rolePermissions"
         FROM roles r WHERE r.slug LIKE $1 ORDER BY r.slug`,
      [`%${tag}`],
    );
    assert.deepEqual(r, rows);
    assert.equal(r[0].roles.length, 2, 'admin has two children');
    assert.equal(r[0].rolePermissions.length, 3);
  } finally {
    await c.end();
  }
  // The same on one row.
  const one = expectStatus(await call('GET', `/roles/${viewer.id}?select=slug,parentRole(slug,roles(slug))`), 200, 'get').body.data;
  assert.deepEqual(one, {
    slug: `viewer-${tag}`,
    parentRole: {
      slug: `admin-${tag}`,
      roles: [{ slug: `editor-${tag}` }, { slug: `viewer-${tag}` }].sort((a, b) => (a.slug < b.slug ? -1 : 1)),
    },
  });
});

test('an embedded list takes its own limit, sort and filters; a to-one filter narrows the rows', async () => {
  const admins = expectStatus(
    await call('GET', `/roles?select=slug,roles(slug)&slug=eq.admin-${tag}&roles.sort=-slug&roles.limit=1`),
    200,
    'limit and sort',
  ).body.data;
  assert.deepEqual(admins, [{ slug: `admin-${tag}`, roles: [{ slug: `viewer-${tag}` }] }]);
  const filtered = expectStatus(
    await call('GET', `/roles?select=slug,roles(slug)&slug=eq.admin-${tag}&roles.slug=eq.editor-${tag}`),
    200,
    'filter on the embedded list',
  ).body.data;
  assert.deepEqual(filtered[0].roles, [{ slug: `editor-${tag}` }]);
  // role_permissions of the viewer role, found through the role's slug.
  const grants = expectStatus(
    await call('GET', `/role-permissions?select=permissionId,role(slug)&role.slug=eq.viewer-${tag}`),
    200,
    'to-one filter',
  ).body.data;
  assert.deepEqual(grants, [{ permissionId: perms[0].id, role: { slug: `viewer-${tag}` } }]);
  const c = await db();
  try {
    const { rows } = await c.query(
      'SELECT count(*)::int AS n FROM role_permissions rp JOIN roles r ON r.id = rp.role_id WHERE r.slug = $1',
      [`viewer-${tag}`],
    );
    assert.equal(grants.length, rows[0].n);
  } finally {
    await c.end();
  }
  expectError(await call('GET', `/roles?select=slug,roles(slug)&roles.nope=eq.1`), 400, 'unknown embedded field');
  expectError(
    await call('GET', `/roles?select=slug,roles(slug,parentRole(slug))&roles.parentRole.slug=eq.admin-${tag}`),
    400,
    'a filter on a nested to-one embed (it would narrow embedded rows by a row they embed)',
  );
});

test('with the select switch off (users here), list and get answer whole rows, typed as such', async () => {
  expectError(await call('GET', '/users?select=email'), 400, 'select on a resource without it');
  const doc = expectStatus(await call('GET', '/docs-json'), 200, 'document').body;
  const op = doc.paths['/users'].get;
  assert.equal(
    op.parameters.find((p) => p.name === 'select'),
    undefined,
  );
  assert.equal(doc.components.schemas.UserListResponseDto.properties.data.items.$ref, '#/components/schemas/UserDto');
  // Other resources still embed its rows: user_roles has two keys to users, each its own embed,
  // or the table's name and the key's constraint.
  const u0 = expectStatus(await call('POST', '/users', { email: `sel-${tag}@select.test`, passwordHash: 'h', name: 'Sel' }), 201, 'user')
    .body.data;
  expectError(await call('GET', `/users/${u0.id}?select=email`), 400, 'select on get');
  expectStatus(await call('POST', '/user-roles', { userId: u0.id, roleId: viewer.id, assignedBy: u0.id }), 201, 'user role');
  const both = expectStatus(
    await call('GET', `/user-roles?select=roleId,user(email),users!user_roles_assigned_by_fkey(name)&userId=eq.${u0.id}`),
    200,
    'two keys to users',
  ).body.data;
  // An embed picked by its constraint answers under the relation's name.
  assert.deepEqual(both, [{ roleId: viewer.id, user: { email: u0.email }, assignedByUser: { name: 'Sel' } }]);
  const ambiguous = expectError(await call('GET', '/user-roles?select=roleId,users(email)'), 400, 'a table related in two ways');
  assert.match(ambiguous.body.message, /user_roles_user_id_fkey/);
});

test('the OpenAPI document has select and the answer a selection may have', async () => {
  const doc = expectStatus(await call('GET', '/docs-json'), 200, 'document').body;
  const op = doc.paths['/roles'].get;
  const select = op.parameters.find((p) => p.name === 'select');
  assert.ok(select && select.description.includes('rolePermissions'), JSON.stringify(select));
  const items = op.responses['200'].content['application/json'].schema.properties.data.items;
  assert.deepEqual(
    items.anyOf.map((s) => s.$ref.split('/').pop()),
    ['RoleDto', 'RoleDtoSelection'],
  );
  const selection = doc.components.schemas.RoleDtoSelection;
  assert.equal(selection.required, undefined, 'nothing is required in a selection');
  assert.equal(selection.properties.rolePermissions.items.$ref, '#/components/schemas/RolePermissionDtoSelection');
  assert.deepEqual(selection.properties.parentRole.anyOf[1], { type: 'null' });
});

// A second instance of the app, connected through a proxy that counts the statements it runs
// (Execute and simple Query messages of the PostgreSQL protocol).
let proxy;
let app;
let statements = 0;
let appBase;

function countMessages(state, chunk) {
  state.buf = Buffer.concat([state.buf, chunk]);
  for (;;) {
    if (!state.started) {
      if (state.buf.length < 4) return;
      const len = state.buf.readInt32BE(0);
      if (state.buf.length < len) return;
      state.buf = state.buf.subarray(len);
      state.started = true;
      continue;
    }
    if (state.buf.length < 5) return;
    const len = state.buf.readInt32BE(1);
    if (state.buf.length < 1 + len) return;
    const type = String.fromCharCode(state.buf[0]);
    if (type === 'E' || type === 'Q') statements++;
    state.buf = state.buf.subarray(1 + len);
  }
}

before(async () => {
  const target = new URL(DATABASE_URL);
  proxy = net.createServer((client) => {
    const server = net.connect(Number(target.port || 5432), target.hostname);
    const state = { buf: Buffer.alloc(0), started: false };
    client.on('data', (d) => {
      countMessages(state, d);
      server.write(d);
    });
    server.pipe(client);
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
    client.on('close', () => server.destroy());
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const viaProxy = new URL(DATABASE_URL);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.address().port);
  const port = 20000 + Math.floor(Math.random() * 20000);
  app = spawn(process.execPath, ['dist/main.js'], {
    cwd: process.env.PROJECT_DIR,
    env: {
      ...process.env,
      DATABASE_URL: viaProxy.toString(),
      PORT: String(port),
      HOST: '127.0.0.1',
      ALLOW_UNSAFE_DATABASE_ROLE: 'true',
      RATE_LIMIT_PER_MINUTE: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    app.stdout.on('data', (d) => String(d).includes('listening on') && resolve());
    app.on('exit', (code) => reject(new Error(`the app exited (${code})`)));
  });
  appBase = `http://127.0.0.1:${port}`;
});

after(async () => {
  app?.kill('SIGTERM');
  proxy?.close();
});

test('one SQL statement per request, however much is embedded', async () => {
  const paths = [
    `/roles?select=slug,parentRole(slug),roles(slug,rolePermissions(permission(slug))),rolePermissions(permission(slug))&slug=like.*${tag}`,
    `/roles/${editor.id}?select=*,parentRole(*,roles(*)),rolePermissions(*,permission(*))`,
    `/role-permissions?select=*,role(slug),permission(slug)&role.slug=eq.admin-${tag}`,
  ];
  for (const path of paths) {
    // Warm: the pool's connections are made (and their settings sent) before counting.
    expectStatus(await fetch(appBase + path).then(async (r) => ({ status: r.status, text: await r.text() })), 200, path);
    const before = statements;
    const r = await fetch(appBase + path);
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.ok(body.data, path);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(statements - before, 1, `${path}: statements run`);
  }
});
