// Multi-tenancy attacks over HTTP and in SQL. Two organizations, members of each; every route
// on the other tenant's rows must give 404/403 with no data; row-level security alone (the app
// filter switched off in a second instance) still isolates; concurrent requests on one pool
// never see the other tenant's rows.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { BASE, call, db, expectError, expectStatus, openApiErrors, undocumentedErrors, undocumentedSuccess } from './lib.mjs';

const NOFILTER = process.env.BASE_URL_NOFILTER;
const APP_URL = process.env.DATABASE_URL_APP;
const SECRET = process.env.AUTH_JWT_SECRET;
const PASSWORD = 'tenant password 123';
let sql;
const org = {};
const tok = {};
const user = {};
const rows = { A: {}, B: {} };

const auth = (t, extra = {}) => ({ headers: { authorization: `Bearer ${t}`, ...extra } });

async function at(base, method, path, body, opts) {
  const res = await fetch(base + path, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(opts?.headers ?? {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
}

/**
 * A member of organization A signed in with one role whose only permission is `permission`
 * (a role made for it, `slug`): the caller's headers.
 */
async function memberWithOnly(permission, slug, email) {
  const role = (await sql.query('INSERT INTO roles (name, slug) VALUES ($1, $1) RETURNING id', [slug])).rows[0].id;
  await sql.query('INSERT INTO role_permissions (role_id, permission_id) SELECT $1, id FROM permissions WHERE slug = $2', [
    role,
    permission,
  ]);
  const u = expectStatus(await call('POST', '/auth/register', { email, password: PASSWORD, name: slug }), 201, 'register').body.data;
  await sql.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [u.id]);
  const m = (
    await sql.query("INSERT INTO organization_users (organization_id, email, name, role) VALUES ($1, $2, $3, 'member') RETURNING id", [
      org.A,
      email,
      slug,
    ])
  ).rows[0].id;
  await sql.query('INSERT INTO nestgen.member_links (member_id, user_id) VALUES ($1, $2)', [m, u.id]);
  await sql.query('INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)', [u.id, role]);
  return auth(expectStatus(await call('POST', '/auth/login', { email, password: PASSWORD }), 200, 'login').body.accessToken);
}

before(async () => {
  sql = await db();
  for (const slug of ['A', 'B']) {
    org[slug] = (
      await sql.query('INSERT INTO organizations (name, slug) VALUES ($1, $2) RETURNING id', [`Org ${slug}`, slug.toLowerCase()])
    ).rows[0].id;
  }
  const people = { ownerA: ['A', 'owner'], memberA: ['A', 'member'], ownerB: ['B', 'owner'], memberB: ['B', 'member'], root: [null, null] };
  const adminRole = (await sql.query("SELECT id FROM roles WHERE slug = 'admin'")).rows[0].id;
  const superRole = (await sql.query("SELECT id FROM roles WHERE slug = 'super-admin'")).rows[0].id;
  for (const [name, [o, role]] of Object.entries(people)) {
    const email = `${name.toLowerCase()}@tenancy.io`;
    user[name] = expectStatus(await call('POST', '/auth/register', { email, password: PASSWORD, name }), 201, `register ${name}`).body.data;
    // Memberships match by email only once the address is verified (the emailed token's job;
    // done in SQL here, the security suite goes through the mailbox).
    await sql.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [user[name].id]);
    if (o) {
      // An operator adds a member: the membership row, linked to the account.
      const m = (
        await sql.query('INSERT INTO organization_users (organization_id, email, name, role) VALUES ($1, $2, $3, $4) RETURNING id', [
          org[o],
          email,
          name,
          role,
        ])
      ).rows[0].id;
      await sql.query('INSERT INTO nestgen.member_links (member_id, user_id) VALUES ($1, $2)', [m, user[name].id]);
    }
    await sql.query('INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)', [user[name].id, o ? adminRole : superRole]);
    tok[name] = expectStatus(await call('POST', '/auth/login', { email, password: PASSWORD }), 200, `login ${name}`).body.accessToken;
  }
  for (const o of ['A', 'B']) {
    const t = tok[`owner${o}`];
    for (const n of [1, 2, 3]) {
      rows[o][`p${n}`] = expectStatus(
        await call('POST', '/v1/projects', { name: `${o} project ${n}` }, auth(t)),
        201,
        `project ${o}${n}`,
      ).body.data;
    }
    rows[o].tag = expectStatus(
      await call('POST', '/project-tags', { projectId: rows[o].p1.id, tag: 'red' }, auth(t)),
      201,
      `tag ${o}`,
    ).body.data;
    expectStatus(await call('DELETE', `/v1/projects/${rows[o].p3.id}`, undefined, auth(t)), 204, `soft delete ${o}3`);
  }
});

after(async () => {
  await sql?.end();
});

test('a token from switching organization belongs to the same sign-in: signing out ends it', async () => {
  const signin = expectStatus(await call('POST', '/auth/login', { email: 'membera@tenancy.io', password: PASSWORD }), 200, 'login').body;
  const switched = expectStatus(
    await call('POST', '/auth/organization', { organizationId: org.A }, auth(signin.accessToken)),
    200,
    'switch',
  ).body.accessToken;
  expectStatus(await call('GET', '/v1/projects', undefined, auth(switched)), 200, 'the switched token works');
  expectStatus(await call('POST', '/auth/logout', { refreshToken: signin.refreshToken }), 204, 'logout');
  expectError(await call('GET', '/v1/projects', undefined, auth(switched)), 401, 'the switched token after logout');
  expectError(await call('GET', '/v1/projects', undefined, auth(signin.accessToken)), 401, 'the sign-in token after logout');
  expectStatus(await call('GET', '/v1/projects', undefined, auth(tok.memberA)), 200, 'another sign-in goes on');
});

test('the token carries the organization; rows are stamped with it', async () => {
  const claims = JSON.parse(Buffer.from(tok.memberA.split('.')[1], 'base64url').toString());
  assert.equal(claims.org, org.A);
  assert.equal(rows.A.p1.organizationId, org.A);
  assert.equal(rows.B.p1.organizationId, org.B);
  const orgs = expectStatus(await call('GET', '/auth/organizations', undefined, auth(tok.memberA)), 200, 'my organizations').body.data;
  assert.deepEqual(
    orgs.map((o) => o.id),
    [org.A],
  );
  const seen = expectStatus(await call('GET', '/v1/organizations', undefined, auth(tok.memberA)), 200, 'organizations').body.data;
  assert.deepEqual(
    seen.map((o) => o.id),
    [org.A],
    'a member sees only their organization',
  );
});

test('every route on the other tenant’s rows: 404 or 403, no data', async () => {
  const t = auth(tok.memberA);
  const b = rows.B;
  const cases = [
    ['GET', `/v1/projects/${b.p1.id}`, undefined, 404],
    ['GET', `/v1/projects/${b.p3.id}?withDeleted=true`, undefined, 404],
    ['PATCH', `/v1/projects/${b.p1.id}`, { name: 'stolen' }, 404],
    ['DELETE', `/v1/projects/${b.p1.id}`, undefined, 404],
    ['POST', `/v1/projects/${b.p3.id}/restore`, undefined, 404],
    ['GET', `/project-tags/${b.p1.id}/red`, undefined, 404],
    ['DELETE', `/project-tags/${b.p1.id}/red`, undefined, 404],
    ['PATCH', `/v1/organizations/${org.B}`, { name: 'stolen' }, 403],
    ['GET', `/v1/organizations/${org.B}`, undefined, 404],
    [
      'GET',
      `/v1/organization-users/${(await sql.query('SELECT id FROM organization_users WHERE organization_id = $1 LIMIT 1', [org.B])).rows[0].id}`,
      undefined,
      404,
    ],
  ];
  for (const [method, path, body, status] of cases) {
    const r = await call(method, path, body, t);
    // 404: not found in your organization; 403 where the route itself is not yours. Never the row.
    expectError(r, status, `${method} ${path}`);
    assert.ok(!r.text.includes(org.B), `${method} ${path} leaks the other organization's id`);
  }
  // Nothing changed in B.
  const still = (await sql.query('SELECT name, deleted_at FROM projects WHERE id = $1', [b.p1.id])).rows[0];
  assert.deepEqual([still.name, still.deleted_at], ['B project 1', null]);
  // Lists only ever show A.
  for (const q of ['', '?withDeleted=true', '?count=exact', '?sort=-name&limit=100']) {
    const list = expectStatus(await call('GET', `/v1/projects${q}`, undefined, t), 200, `list ${q}`).body;
    assert.ok(list.data.length > 0 && list.data.every((p) => p.organizationId === org.A), `list ${q} shows another tenant`);
    if (list.meta.count !== undefined) assert.equal(list.meta.count, 2);
  }
  expectError(await call('GET', `/v1/projects?organizationId=eq.${org.B}`, undefined, t), 400, 'filter naming the tenant column');
  expectError(await call('GET', `/v1/projects?organization_id=eq.${org.B}`, undefined, t), 400, 'filter naming the tenant column (snake)');
  // A forged cursor pointing into B's rows still pages A only.
  const forged = Buffer.from(JSON.stringify({ s: 'id', v: [b.p1.id] })).toString('base64url');
  const paged = expectStatus(await call('GET', `/v1/projects?cursor=${forged}`, undefined, t), 200, 'forged cursor').body.data;
  assert.ok(paged.every((p) => p.organizationId === org.A));
  // Bodies cannot name a tenant.
  expectError(await call('POST', '/v1/projects', { name: 'x', organizationId: org.B }, t), 400, 'create in another tenant');
  expectError(await call('PATCH', `/v1/projects/${rows.A.p1.id}`, { organizationId: org.B }, t), 400, 'move a row to another tenant');
  expectError(
    await call('POST', '/v1/projects/bulk', [{ name: 'x' }, { name: 'y', organizationId: org.B }], t),
    400,
    'bulk into another tenant',
  );
  const bulk = expectStatus(await call('POST', '/v1/projects/bulk', [{ name: 'bulk 1' }, { name: 'bulk 2' }], t), 201, 'bulk').body.data;
  assert.ok(bulk.every((p) => p.organizationId === org.A));
  expectError(
    await call('POST', '/project-tags', { projectId: b.p1.id, tag: 'mine' }, t),
    409,
    'tag on another tenant’s project (the FK cannot see it)',
  );
  // Another organization in the header, or in a forged token.
  expectError(
    await call('GET', '/v1/projects', undefined, auth(tok.memberA, { 'x-organization-id': org.B })),
    403,
    'header for a foreign tenant',
  );
  // Two headers reach the app joined by a comma: not one organization, a client error.
  for (const bad of [`${org.A}, ${org.B}`, `${org.A}, ${org.A}`, 'not-an-id']) {
    expectError(
      await call('GET', '/v1/projects', undefined, auth(tok.memberA, { 'x-organization-id': bad })),
      400,
      `X-Organization-Id: ${bad}`,
    );
  }
  const claims = JSON.parse(Buffer.from(tok.memberA.split('.')[1], 'base64url').toString());
  const h = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const p = Buffer.from(JSON.stringify({ ...claims, org: org.B })).toString('base64url');
  const forgedToken = `${h}.${p}.${createHmac('sha256', SECRET).update(`${h}.${p}`).digest('base64url')}`;
  expectError(await call('GET', '/v1/projects', undefined, auth(forgedToken)), 403, 'validly signed token naming a foreign tenant');
  expectError(await call('POST', '/auth/organization', { organizationId: org.B }, t), 403, 'switch to a foreign tenant');
});

test('embeds (select=) keep tenants apart, with or without the app filter, and need the embedded table’s permission', async () => {
  // Rows linking the tenants, planted by the owner with triggers off (the API refuses to make
  // them, and so does the same-tenant trigger; an import might not): a tag of B on A's project,
  // and a tag of A on B's project.
  await sql.query("SET session_replication_role = 'replica'");
  await sql.query('INSERT INTO project_tags (organization_id, project_id, tag) VALUES ($1, $2, $3), ($4, $5, $3)', [
    org.B,
    rows.A.p1.id,
    'planted',
    org.A,
    rows.B.p1.id,
  ]);
  await sql.query("SET session_replication_role = 'origin'");
  try {
    for (const base of [BASE, NOFILTER]) {
      const a = auth(tok.memberA);
      const projects = expectStatus(
        await at(base, 'GET', '/v1/projects?select=id,organization(slug),projectTags(tag,organizationId)&sort=name', undefined, a),
        200,
        `projects ${base}`,
      );
      for (const p of projects.body.data) {
        assert.equal(p.organization.slug, 'a', `${base}: the project's organization`);
        assert.ok(
          p.projectTags.every((t) => t.organizationId === org.A),
          `${base}: B's tag inside A's project: ${JSON.stringify(p)}`,
        );
      }
      assert.deepEqual(projects.body.data.find((p) => p.id === rows.A.p1.id).projectTags, [{ tag: 'red', organizationId: org.A }]);
      const tags = expectStatus(
        await at(base, 'GET', '/project-tags?select=tag,project(name,organization(slug))&sort=tag', undefined, a),
        200,
        `tags ${base}`,
      ).body.data;
      // A's planted tag points at B's project: the tag is A's, its project is not to be seen.
      assert.deepEqual(
        tags.find((t) => t.tag === 'planted'),
        { tag: 'planted', project: null },
        base,
      );
      assert.deepEqual(tags.find((t) => t.tag === 'red').project, { name: 'A project 1', organization: { slug: 'a' } }, base);
      assert.ok(!JSON.stringify(tags).includes('B project'), `${base}: ${JSON.stringify(tags)}`);
      // A to-one filter cannot reach into B either.
      const byName = expectStatus(
        await at(base, 'GET', `/project-tags?select=tag,project(name)&project.name=eq.${encodeURIComponent('B project 1')}`, undefined, a),
        200,
        'filter',
      );
      assert.deepEqual(byName.body.data, [], base);
    }
    // A member of A whose only permission is reading tags: embedding projects needs projects:read.
    const t = await memberWithOnly('project_tags:read', 'tags-only', 'tagsonly@tenancy.io');
    expectStatus(await call('GET', '/project-tags?select=tag', undefined, t), 200, 'own table');
    const denied = expectError(
      await call('GET', '/project-tags?select=tag,project(name)', undefined, t),
      403,
      'embedding projects without projects:read',
    );
    assert.match(denied.body.message, /projects:read/);
    expectError(await call('GET', `/project-tags/${rows.A.p1.id}/red?select=tag,project(name)`, undefined, t), 403, 'the same on one row');
  } finally {
    await sql.query("DELETE FROM project_tags WHERE tag = 'planted'");
  }
});

test('aggregates and exports see only the caller’s tenant, with or without the app filter, and need read permission', async () => {
  // Per tenant, as the owner counts in SQL: three projects each, one of them soft-deleted.
  const own = async (o, deleted) =>
    (
      await sql.query(`SELECT count(*)::int AS n FROM projects WHERE organization_id = $1${deleted ? '' : ' AND deleted_at IS NULL'}`, [
        org[o],
      ])
    ).rows[0].n;
  for (const base of [BASE, NOFILTER]) {
    for (const [who, o] of [
      ['ownerA', 'A'],
      ['memberB', 'B'],
    ]) {
      const a = auth(tok[who]);
      const groups = expectStatus(
        await at(base, 'GET', '/v1/projects/aggregate?group=organizationId&agg=count', undefined, a),
        200,
        `${base} ${who}`,
      ).body.data;
      assert.deepEqual(
        groups,
        [{ group: { organizationId: org[o] }, count: await own(o, false) }],
        `${base} ${who}: only its tenant, live rows`,
      );
      const csv = await fetch(`${base}/v1/projects/export?select=name,organizationId`, a);
      assert.equal(csv.status, 200, base);
      const lines = (await csv.text()).trim().split('\r\n');
      assert.equal(lines.length - 1, await own(o, false), `${base} ${who}: the export's rows`);
      assert.ok(
        lines.slice(1).every((l) => l.endsWith(`,${org[o]}`)),
        `${base} ${who}: ${lines.join(' | ')}`,
      );
      const nd = await fetch(`${base}/v1/projects/export?format=ndjson&select=name,projectTags(tag,organizationId)`, a);
      for (const row of (await nd.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))) {
        assert.ok(
          row.projectTags.every((t) => t.organizationId === org[o]),
          `${base}: embedded tags of ${o} only`,
        );
      }
    }
  }
  // Soft-deleted rows, as the list counts them with withDeleted (an owner has the restore permission it takes).
  const listed = expectStatus(
    await call('GET', '/v1/projects?withDeleted=true&count=exact&limit=1', undefined, auth(tok.ownerA)),
    200,
    'list',
  );
  const all = expectStatus(
    await call('GET', '/v1/projects/aggregate?agg=count&withDeleted=true', undefined, auth(tok.ownerA)),
    200,
    'withDeleted',
  );
  assert.deepEqual(all.body.data, [{ count: listed.body.meta.count }]);
  assert.ok(listed.body.meta.count > (await own('A', false)), 'more than the live rows');
  // Without projects:read (a role that reads tags only): 403, as the list.
  const t = await memberWithOnly('project_tags:read', 'tags-reader', 'tagsreader@tenancy.io');
  expectError(await call('GET', '/v1/projects/aggregate', undefined, t), 403, 'aggregate without projects:read');
  expectError(await call('GET', '/v1/projects/export', undefined, t), 403, 'export without projects:read');
  expectError(await call('GET', '/project-tags/export?select=tag,project(name)', undefined, t), 403, 'an export embedding projects');
  expectStatus(await call('GET', '/project-tags/aggregate?group=tag', undefined, t), 200, 'its own table');
  // And without a token at all: 401.
  expectError(await call('GET', '/v1/projects/export'), 401, 'anonymous export');
});

test('unique keys are per tenant; members are managed by owners; cross-tenant only with permission', async () => {
  expectStatus(await call('POST', '/v1/organization-users', { email: 'shared@x.io', name: 'S' }, auth(tok.ownerA)), 201, 'member in A');
  expectError(
    await call('POST', '/v1/organization-users', { email: 'shared@x.io', name: 'S' }, auth(tok.ownerA)),
    409,
    'same email twice in A',
  );
  expectStatus(await call('POST', '/v1/organization-users', { email: 'shared@x.io', name: 'S' }, auth(tok.ownerB)), 201, 'same email in B');
  expectError(
    await call('POST', '/v1/organization-users', { email: 'x@x.io', name: 'X' }, auth(tok.memberA)),
    403,
    'a member cannot add members',
  );
  const members = expectStatus(await call('GET', '/v1/organization-users?limit=100', undefined, auth(tok.memberA)), 200, 'members').body
    .data;
  assert.ok(members.every((m) => m.organizationId === org.A));
  const cross = expectStatus(
    await call('GET', '/v1/projects', undefined, auth(tok.root, { 'x-organization-id': org.B })),
    200,
    'super-admin across tenants',
  ).body.data;
  assert.ok(cross.length > 0 && cross.every((p) => p.organizationId === org.B));
});

test('a suspended organization, or one whose subscription ran out, is read-only', async () => {
  await sql.query("UPDATE organizations SET status = 'suspended' WHERE id = $1", [org.B]);
  expectStatus(await call('GET', '/v1/projects', undefined, auth(tok.ownerB)), 200, 'reads still work');
  expectError(await call('POST', '/v1/projects', { name: 'blocked' }, auth(tok.ownerB)), 403, 'writes are refused');
  await sql.query("UPDATE organizations SET status = 'active' WHERE id = $1", [org.B]);
  expectStatus(await call('POST', '/v1/projects', { name: 'allowed again' }, auth(tok.ownerB)), 201, 'active again');
  // A subscription that ran out counts as a status too.
  await sql.query("UPDATE organizations SET subscription_expires_at = now() - interval '1 day' WHERE id = $1", [org.B]);
  const expired = expectError(await call('POST', '/v1/projects', { name: 'expired' }, auth(tok.ownerB)), 403, 'expired subscription');
  assert.match(expired.body.message, /expired/);
  expectStatus(await call('GET', '/v1/projects', undefined, auth(tok.ownerB)), 200, 'reads still work when expired');
  await sql.query('UPDATE organizations SET subscription_expires_at = NULL WHERE id = $1', [org.B]);
  // Status and billing are the platform's: an owner cannot lift a suspension or extend a subscription.
  for (const body of [{ status: 'active' }, { subscriptionExpiresAt: '2099-01-01T00:00:00Z' }, { subscriptionTier: 'enterprise' }]) {
    expectError(await call('PATCH', `/v1/organizations/${org.B}`, body, auth(tok.ownerB)), 400, `owner sets ${Object.keys(body)[0]}`);
  }
  expectStatus(
    await call('PATCH', `/v1/organizations/${org.B}`, { name: 'Org B, renamed' }, auth(tok.ownerB)),
    200,
    "the name is the owner's",
  );
});

test('row-level security alone isolates (SQL as the application role)', async () => {
  const app = new pg.Client({ connectionString: APP_URL });
  await app.connect();
  try {
    const super_ = (await app.query('SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user')).rows[0];
    assert.deepEqual([super_.rolsuper, super_.rolbypassrls], [false, false], 'the app role is subject to RLS');
    // No tenant set: no rows (or, with the seed's own policy, which reads the setting without
    // missing_ok, an error; either way nothing is returned).
    const unset = await app.query('SELECT count(*)::int AS n FROM projects').then(
      (r) => r.rows[0].n,
      (e) => (assert.match(e.message, /app\.current_organization_id/), 0),
    );
    assert.equal(unset, 0, 'no tenant set: no rows');
    assert.equal((await app.query('SELECT count(*)::int AS n FROM project_tags')).rows[0].n, 0, 'no tenant set: no rows');
    await app.query('BEGIN');
    await app.query("SELECT set_config('app.current_organization_id', $1, true)", [org.A]);
    const seen = (await app.query('SELECT DISTINCT organization_id FROM projects')).rows.map((r) => r.organization_id);
    assert.deepEqual(seen, [org.A]);
    assert.equal((await app.query('SELECT count(*)::int AS n FROM projects WHERE organization_id = $1', [org.B])).rows[0].n, 0);
    assert.equal((await app.query("UPDATE projects SET name = 'x' WHERE organization_id = $1", [org.B])).rowCount, 0);
    assert.equal((await app.query('DELETE FROM project_tags WHERE organization_id = $1', [org.B])).rowCount, 0);
    await assert.rejects(app.query("INSERT INTO projects (organization_id, name) VALUES ($1, 'smuggled')", [org.B]), /row-level security/);
    await app.query('ROLLBACK');
    // A member of A and B, acting in A, may read their own membership in B but not change it.
    const elsewhere = (
      await sql.query(
        "INSERT INTO organization_users (organization_id, email, name, role) VALUES ($1, 'membera@tenancy.io', 'memberA', 'member') RETURNING id",
        [org.B],
      )
    ).rows[0].id;
    await sql.query('INSERT INTO nestgen.member_links (member_id, user_id) VALUES ($1, $2)', [elsewhere, user.memberA.id]);
    await app.query('BEGIN');
    await app.query("SELECT set_config('app.current_organization_id', $1, true), set_config('nestgen.user_id', $2, true)", [
      org.A,
      user.memberA.id,
    ]);
    assert.equal(
      (await app.query('SELECT count(*)::int AS n FROM organization_users WHERE organization_id = $1', [org.B])).rows[0].n,
      1,
      'own membership elsewhere is readable',
    );
    assert.equal(
      (await app.query("UPDATE organization_users SET role = 'owner' WHERE organization_id = $1", [org.B])).rowCount,
      0,
      'but not changeable',
    );
    assert.equal(
      (await app.query('UPDATE organization_users SET organization_id = $1 WHERE organization_id = $2', [org.A, org.B])).rowCount,
      0,
      'nor movable',
    );
    assert.equal((await app.query('DELETE FROM organization_users WHERE organization_id = $1', [org.B])).rowCount, 0, 'nor removable');
    await app.query('ROLLBACK');
    await sql.query("DELETE FROM organization_users WHERE organization_id = $1 AND email = 'membera@tenancy.io'", [org.B]);
    // SET LOCAL does not outlive the transaction on a pooled connection.
    assert.equal((await app.query("SELECT current_setting('app.current_organization_id', true) AS v")).rows[0].v ?? '', '');
  } finally {
    await app.end();
  }
});

test('with the application filter off, RLS still isolates over HTTP; concurrent tenants never mix', async () => {
  assert.ok(NOFILTER, 'second app instance');
  const a = auth(tok.memberA);
  // That instance really has no filter of its own: with the policies switched off, it leaks.
  await sql.query('ALTER TABLE projects DISABLE ROW LEVEL SECURITY');
  try {
    const leak = await at(NOFILTER, 'GET', '/v1/projects?limit=100', undefined, a);
    assert.ok(
      leak.body.data.some((p) => p.organizationId === org.B),
      'without row-level security the filterless instance shows tenant B',
    );
    const held = expectStatus(await call('GET', '/v1/projects?limit=100', undefined, a), 200, 'the normal instance');
    assert.ok(
      held.body.data.every((p) => p.organizationId === org.A),
      "the app's own filter holds without the policies",
    );
  } finally {
    await sql.query('ALTER TABLE projects ENABLE ROW LEVEL SECURITY');
  }
  const list = await at(NOFILTER, 'GET', '/v1/projects?limit=100', undefined, a);
  assert.equal(list.status, 200);
  assert.ok(list.body.data.every((p) => p.organizationId === org.A));
  assert.equal((await at(NOFILTER, 'GET', `/v1/projects/${rows.B.p1.id}`, undefined, a)).status, 404);
  assert.equal((await at(NOFILTER, 'PATCH', `/v1/projects/${rows.B.p1.id}`, { name: 'stolen' }, a)).status, 404);
  assert.equal((await at(NOFILTER, 'DELETE', `/project-tags/${rows.B.p1.id}/red`, undefined, a)).status, 404);
  // 300 requests at once, alternating tenants, on both instances.
  const jobs = [];
  for (let i = 0; i < 300; i++) {
    const o = i % 2 ? 'A' : 'B';
    const base = i % 3 ? NOFILTER : BASE;
    jobs.push(at(base, 'GET', '/v1/projects?limit=100', undefined, auth(tok[`member${o}`])).then((r) => ({ o, r })));
  }
  for (const { o, r } of await Promise.all(jobs)) {
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.data.length > 0 && r.body.data.every((p) => p.organizationId === org[o]), `tenant ${o} saw another tenant's rows`);
  }
});

test('a removed membership stops working once the membership cache (TENANT_CACHE_TTL_MS) runs out', async () => {
  const t = auth(tok.memberA);
  expectStatus(await call('GET', '/v1/projects', undefined, t), 200, 'a member');
  const link = (
    await sql.query(
      `DELETE FROM nestgen.member_links l USING organization_users m
      WHERE l.member_id = m.id AND m.organization_id = $1 AND l.user_id = $2 RETURNING l.member_id`,
      [org.A, user.memberA.id],
    )
  ).rows[0];
  assert.ok(link, 'memberA was linked');
  try {
    let status = 200;
    for (let i = 0; i < 50 && status === 200; i++) {
      status = (await call('GET', '/v1/projects', undefined, t)).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 403, 'the removed member is refused');
  } finally {
    await sql.query('INSERT INTO nestgen.member_links (member_id, user_id) VALUES ($1, $2)', [link.member_id, user.memberA.id]);
  }
});

test('tenants:cross given to a user who is not a super-admin lets them name any organization', async () => {
  const t = auth(tok.memberA, { 'x-organization-id': org.B });
  expectError(await call('GET', '/v1/projects', undefined, t), 403, 'without tenants:cross');
  await sql.query("INSERT INTO user_permissions (user_id, permission_id) SELECT $1, id FROM permissions WHERE slug = 'tenants:cross'", [
    user.memberA.id,
  ]);
  try {
    let r;
    for (let i = 0; i < 50; i++) {
      r = await call('GET', '/v1/projects', undefined, t);
      if (r.status === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expectStatus(r, 200, 'with tenants:cross');
    assert.ok(r.body.data.length > 0 && r.body.data.every((p) => p.organizationId === org.B), "tenant B's rows, and only those");
    // tenants:cross is a platform power: its holder acts in B as its owners may.
    expectStatus(
      await call('POST', '/v1/organization-users', { email: 'cross@y.io', name: 'X' }, t),
      201,
      'member management across tenants',
    );
  } finally {
    await sql.query('DELETE FROM user_permissions WHERE user_id = $1', [user.memberA.id]);
  }
});

test('the access log: one entry per request with its id, the caller, the tenant, status and time; no query string', async () => {
  const { readFileSync } = await import('node:fs');
  const id = `tenancy-log-${Date.now()}`;
  const r = await at(
    BASE,
    'GET',
    `/v1/projects?name=eq.${encodeURIComponent('secret filter value')}`,
    undefined,
    auth(tok.ownerA, { 'x-request-id': id }),
  );
  assert.equal(r.status, 200);
  const missing = await at(BASE, 'GET', `/v1/projects/${rows.B.p1.id}`, undefined, auth(tok.ownerA, { 'x-request-id': `${id}-b` }));
  assert.equal(missing.status, 404);
  assert.equal(missing.body.requestId, `${id}-b`, 'the error answer names the request');
  const entries = async (rid) => {
    for (let i = 0; i < 100; i++) {
      const found = readFileSync(process.env.APP_LOG, 'utf8')
        .split('\n')
        .filter((l) => l.includes(rid))
        .map((l) => JSON.parse(l));
      if (found.some((e) => e.context === 'http')) return found;
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.fail(`no access log entry for ${rid}`);
  };
  const [ok] = (await entries(id)).filter((e) => e.context === 'http' && e.requestId === id);
  assert.equal(ok.level, 'info');
  assert.equal(ok.method, 'GET');
  assert.equal(ok.path, '/v1/projects', 'the path without its query string');
  assert.equal(ok.status, 200);
  assert.equal(typeof ok.ms, 'number');
  assert.equal(ok.userId, user.ownerA.id);
  assert.equal(ok.tenant, org.A);
  assert.match(ok.time, /^\d{4}-\d\d-\d\dT/);
  const [notFound] = (await entries(`${id}-b`)).filter((e) => e.context === 'http');
  assert.equal(notFound.status, 404);
  assert.equal(notFound.requestId, `${id}-b`);
  assert.equal(notFound.path, '/v1/projects/:id', 'a matched route is logged by its pattern (no ids or tokens from the path)');
  // A path no route matched is client input: logged as (no route), whatever it carries.
  const stray = await at(
    BASE,
    'GET',
    '/nope;jsessionid=SECRETSEMI/abc%3Ftoken=SECRETENC',
    undefined,
    auth(tok.ownerA, { 'x-request-id': `${id}-c` }),
  );
  assert.equal(stray.status, 404);
  const [strayEntry] = (await entries(`${id}-c`)).filter((e) => e.context === 'http');
  assert.equal(strayEntry.path, '(no route)');
  assert.ok(!readFileSync(process.env.APP_LOG, 'utf8').includes('SECRET'), 'nothing from an unmatched path in the log');
  assert.ok(!readFileSync(process.env.APP_LOG, 'utf8').includes('secret filter value'), 'filter values stay out of the log');
  assert.ok(!readFileSync(process.env.APP_LOG, 'utf8').includes('\x1b['), 'no colour codes in a log that is not a terminal');
});

test('OpenAPI: every operation of sign-in, roles and organizations documents its success answer', async () => {
  const doc = expectStatus(await call('GET', '/docs-json'), 200, 'docs-json').body;
  assert.ok(doc.paths['/auth/register'] && doc.paths['/auth/organizations'] && doc.paths['/rbac/users/{userId}/permissions']);
  assert.deepEqual(undocumentedSuccess(doc), []);
  assert.deepEqual(undocumentedErrors(doc), [], 'every operation documents the 400, 401 and 403 it can give');
  assert.equal(
    doc.paths['/rbac/users/{userId}/permissions'].get.responses['403'].content['application/json'].schema.$ref,
    '#/components/schemas/ErrorResponseDto',
  );
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(await openApiErrors(doc), [], 'Redocly finds no error in the document');
  // Signed-in routes name the bearer scheme; sign-in itself says it is public.
  assert.deepEqual(doc.paths['/auth/login'].post.security, []);
  assert.ok(
    doc.paths['/v1/organizations'].get.security?.some((s) => 'bearer' in s),
    JSON.stringify(doc.paths['/v1/organizations'].get.security),
  );
  assert.equal(
    doc.paths['/auth/register'].post.responses['201'].content['application/json'].schema.$ref,
    '#/components/schemas/AuthRegisteredDto',
  );
});
