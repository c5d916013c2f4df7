// The whole seed generated with defaults, set up by its README's own commands, attacked over
// HTTP as a hostile user would. Each test is an attack that worked against earlier versions.
//
// Environment (from crates/cli/tests/e2e.rs):
//   BASE_URL            the app (caches off, rate limits off)
//   BASE_URL_NOFILTER   the same app with the application's row filters off (RLS alone)
//   BASE_URL_LIMITED_A  two instances with low rate limits sharing Redis, TRUST_PROXY on,
//   BASE_URL_LIMITED_B  and a new JWT secret (the first instance's is their previous one)
//   DATABASE_URL        admin connection; DATABASE_URL_APP the app's own role; APP_ROLE its name
//   MAIL_DIR            where the SMTP sink writes messages
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import net from 'node:net';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { base32Decode, call, db, expectError, expectStatus, mailBody, mailToken } from './lib.mjs';

const NOFILTER = process.env.BASE_URL_NOFILTER;
const LIMITED = [process.env.BASE_URL_LIMITED_A, process.env.BASE_URL_LIMITED_B];
const APP_URL = process.env.DATABASE_URL_APP;
const APP_ROLE = process.env.APP_ROLE;
const PASSWORD = 'a long enough password';
let sql;
const org = {};
const user = {};
const tok = {};

const bearer = (t, extra = {}) => ({ headers: { authorization: `Bearer ${t}`, ...extra } });
const claims = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString());

async function at(base, method, path, body, headers = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text, headers: res.headers };
}

async function register(email, name) {
  return expectStatus(await call('POST', '/auth/register', { email, password: PASSWORD, name }), 201, `register ${email}`).body;
}

/** Verify with the token the sink received (the mailbox's owner, not the registrant). */
async function verify(email) {
  const token = await mailToken(email, /Confirm your email/);
  expectStatus(await call('POST', '/auth/verify-email', { token }), 204, `verify ${email}`);
}

async function login(email, password = PASSWORD, extra = {}) {
  return expectStatus(await call('POST', '/auth/login', { email, password, ...extra }), 200, `login ${email}`).body.accessToken;
}

async function role(userId, slug) {
  await sql.query('INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE slug = $2', [userId, slug]);
}

/** An operator adds a member: the membership row, linked to the account. */
async function member(o, email, name, memberRole, userId) {
  const m = (
    await sql.query('INSERT INTO organization_users (organization_id, email, name, role) VALUES ($1, $2, $3, $4) RETURNING id', [
      org[o],
      email,
      name,
      memberRole,
    ])
  ).rows[0].id;
  await sql.query('INSERT INTO nestgen.member_links (member_id, user_id) VALUES ($1, $2)', [m, userId]);
}

// RFC 6238, as authenticator apps compute it.
function totp(secret, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', base32Decode(secret)).update(msg).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** The current 30 s step, not within 3 s of its end (so a code stays valid while it travels). */
async function safeStep() {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < 3000) await new Promise((r) => setTimeout(r, left + 100));
  return Math.floor(Date.now() / 30_000);
}

before(async () => {
  sql = await db();
  for (const o of ['A', 'B']) {
    org[o] = (
      await sql.query('INSERT INTO organizations (name, slug) VALUES ($1, $2) RETURNING id', [`Org ${o}`, `sec-${o.toLowerCase()}`])
    ).rows[0].id;
  }
  const people = [
    ['root', null, null, 'super-admin'],
    ['ownerA', 'A', 'owner', 'admin'],
    ['ownerB', 'B', 'owner', 'admin'],
    ['memberB', 'B', 'member', 'manager'],
    ['guestB', 'B', 'member', 'guest'],
  ];
  for (const [name, o, memberRole, globalRole] of people) {
    const email = `${name.toLowerCase()}@sec.io`;
    user[name] = (await register(email, name)).data;
    await verify(email);
    if (o) await member(o, email, name, memberRole, user[name].id);
    await role(user[name].id, globalRole);
    tok[name] = await login(email);
  }
});

after(async () => {
  await sql?.end();
});

// Routes anyone may call, and routes any signed-in user may call; every other operation of the
// OpenAPI document must name the permission it requires.
const PUBLIC = new Set([
  'GET /health',
  'POST /auth/register',
  'POST /auth/login',
  'POST /auth/refresh',
  'POST /auth/logout',
  'POST /auth/verify-email',
  'POST /auth/password/forgot',
  'POST /auth/password/reset',
]);
const SIGNED_IN = new Set([
  'GET /auth/me',
  'POST /auth/verify-email/resend',
  'POST /auth/password/change',
  'POST /auth/2fa/enable',
  'POST /auth/2fa/verify',
  'POST /auth/2fa/disable',
  'GET /auth/organizations',
  'POST /auth/organization',
  'GET /auth/invitations',
  'POST /auth/invitations/{id}/accept',
]);

test('deny by default: every operation answers 401 without a token and 403 to an account without roles', async () => {
  const doc = expectStatus(await call('GET', '/docs-json'), 200, 'OpenAPI').body;
  const nobody = (await register('roleless@sec.io', 'Nobody')).data;
  await verify('roleless@sec.io');
  const t = await login('roleless@sec.io');
  const sample = (p) =>
    p.schema?.format === 'uuid'
      ? '00000000-0000-0000-0000-000000000000'
      : p.schema?.type === 'number' || p.schema?.type === 'integer'
        ? '1'
        : 'x';
  let operations = 0;
  let denied = 0;
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'patch', 'put', 'delete'].includes(method)) continue;
      operations++;
      const name = `${method.toUpperCase()} ${template}`;
      let path = template;
      for (const p of op.parameters ?? []) if (p.in === 'path') path = path.replace(`{${p.name}}`, sample(p));
      const body = ['post', 'patch', 'put'].includes(method) ? {} : undefined;
      if (PUBLIC.has(name)) {
        assert.ok(!op.security?.length, `${name} is public but the document asks for a token`);
        continue;
      }
      assert.ok(
        op.security?.some((s) => 'bearer' in s),
        `${name} does not document its bearer token`,
      );
      expectError(await call(method.toUpperCase(), path, body), 401, `anonymous ${name}`);
      if (SIGNED_IN.has(name)) continue;
      const permission = op['x-required-permission'];
      assert.ok(permission, `${name} names no required permission`);
      const r = expectError(await call(method.toUpperCase(), path, body, bearer(t)), 403, `no roles: ${name}`);
      assert.match(r.body.message, new RegExp(permission.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), name);
      denied++;
    }
  }
  assert.ok(operations > 150 && denied > 130, `walked ${operations} operations, ${denied} denied`);
  assert.ok(nobody.id);
});

test('an invited email gives nothing until its owner verifies it; a reset takes the account back', async () => {
  expectStatus(
    await call('POST', '/v1/organization-users', { email: 'victim@sec.io', name: 'Victim', role: 'admin' }, bearer(tok.ownerA)),
    201,
    'invite',
  );
  // Mallory registers the invited address. The verification email goes to the victim's mailbox.
  const mallory = await register('victim@sec.io', 'Mallory');
  assert.equal(claims(mallory.tokens.accessToken).org, undefined, 'no organization at sign-up');
  const t = await login('victim@sec.io');
  assert.equal(claims(t).org, undefined, 'no organization at sign-in');
  assert.deepEqual(expectStatus(await call('GET', '/auth/organizations', undefined, bearer(t)), 200, 'organizations').body.data, []);
  assert.deepEqual(expectStatus(await call('GET', '/auth/invitations', undefined, bearer(t)), 200, 'invitations').body.data, []);
  expectError(await call('POST', '/auth/organization', { organizationId: org.A }, bearer(t)), 403, 'switch to the inviting tenant');
  expectError(
    await call('GET', '/v1/projects', undefined, bearer(t, { 'x-organization-id': org.A })),
    403,
    'header naming the inviting tenant',
  );
  const invite = (await sql.query("SELECT id FROM organization_users WHERE email = 'victim@sec.io'")).rows[0].id;
  expectError(await call('POST', `/auth/invitations/${invite}/accept`, undefined, bearer(t)), 403, 'accept unverified');
  // Forgot-password answers the same for any address.
  const known = expectStatus(await call('POST', '/auth/password/forgot', { email: 'victim@sec.io' }), 202, 'forgot (known)').body;
  const unknown = expectStatus(await call('POST', '/auth/password/forgot', { email: 'nobody-here@sec.io' }), 202, 'forgot (unknown)').body;
  assert.deepEqual(known, unknown, 'no hint whether an account exists');
  // Failed guesses locked the account: the reset lifts the lock too.
  await sql.query("UPDATE users SET locked_until = now() + interval '1 hour' WHERE email = 'victim@sec.io'");
  expectError(await call('POST', '/auth/login', { email: 'victim@sec.io', password: PASSWORD }), 423, 'locked');
  // The real owner of the mailbox resets the password: Mallory's sessions end, the address is verified.
  const reset = await mailToken('victim@sec.io', /Reset your password/);
  expectError(
    await call('POST', '/auth/password/reset', { token: 'x'.repeat(43), password: 'the victim is back 1' }),
    400,
    'made-up reset token',
  );
  expectStatus(await call('POST', '/auth/password/reset', { token: reset, password: 'the victim is back 1' }), 204, 'reset');
  expectError(await call('POST', '/auth/password/reset', { token: reset, password: 'again and again 12' }), 400, 'reset token used twice');
  expectError(await call('GET', '/auth/me', undefined, bearer(t)), 401, "Mallory's access token after the reset");
  expectError(
    await call('POST', '/auth/refresh', { refreshToken: mallory.tokens.refreshToken }),
    401,
    "Mallory's refresh token after the reset",
  );
  expectError(await call('POST', '/auth/login', { email: 'victim@sec.io', password: PASSWORD }), 401, "Mallory's password");
  // What a member may do is their global role's business: give the account one.
  await role(mallory.data.id, 'user');
  let victim = await login('victim@sec.io', 'the victim is back 1');
  assert.equal(claims(victim).org, undefined, 'an invitation is not a membership until accepted');
  const waiting = expectStatus(await call('GET', '/auth/invitations', undefined, bearer(victim)), 200, 'invitations').body.data;
  assert.deepEqual(
    waiting.map((i) => i.id),
    [invite],
    'the verified owner of the address is invited',
  );
  expectStatus(await call('POST', `/auth/invitations/${invite}/accept`, undefined, bearer(victim)), 200, 'accept');
  victim = await login('victim@sec.io', 'the victim is back 1');
  assert.equal(claims(victim).org, org.A, 'and a member once they accept');
  const projects = expectStatus(await call('GET', '/v1/projects', undefined, bearer(victim)), 200, 'projects').body.data;
  assert.ok(projects.every((p) => p.organizationId === org.A));
});

test('a verified invitee joins; accepting binds the membership to the account', async () => {
  const invited = expectStatus(
    await call('POST', '/v1/organization-users', { email: 'carol@sec.io', name: 'Carol', role: 'member' }, bearer(tok.ownerA)),
    201,
    'invite',
  ).body.data;
  // The address is told, and told what to do.
  const letter = await mailBody('carol@sec.io', /invited/);
  assert.ok(letter.includes(`/auth/invitations/${invited.id}/accept`), letter);
  const carol = (await register('carol@sec.io', 'Carol')).data;
  const before = await login('carol@sec.io');
  assert.deepEqual(
    expectStatus(await call('GET', '/auth/invitations', undefined, bearer(before)), 200, 'invitations').body.data,
    [],
    'unverified: none',
  );
  const token = await mailToken('carol@sec.io', /Confirm your email/);
  expectStatus(await call('POST', '/auth/verify-email', { token }), 204, 'verify');
  expectError(await call('POST', '/auth/verify-email', { token }), 400, 'verification token used twice');
  const invitations = expectStatus(await call('GET', '/auth/invitations', undefined, bearer(before)), 200, 'invitations').body.data;
  assert.deepEqual(
    invitations.map((i) => i.organizationId),
    [org.A],
  );
  expectStatus(await call('POST', `/auth/invitations/${invitations[0].id}/accept`, undefined, bearer(before)), 200, 'accept');
  assert.deepEqual(expectStatus(await call('GET', '/auth/invitations', undefined, bearer(before)), 200, 'invitations').body.data, []);
  await role(carol.id, 'user');
  const linked = (await sql.query('SELECT user_id FROM nestgen.member_links WHERE member_id = $1', [invitations[0].id])).rows;
  assert.deepEqual(
    linked.map((r) => r.user_id),
    [carol.id],
    'linked to her account',
  );
  const t = await login('carol@sec.io');
  assert.equal(claims(t).org, org.A);
  expectStatus(await call('GET', '/v1/projects', undefined, bearer(t)), 200, 'carol reads A');
  // Once linked, the row belongs to Carol's account, not to whoever holds the address: a new
  // account with that email (after Carol's is gone) gets nothing.
  await sql.query('UPDATE users SET email = $1 WHERE id = $2', ['carol-renamed@sec.io', carol.id]);
  await sql.query("INSERT INTO users (email, password_hash, name, email_verified_at) VALUES ('carol@sec.io', 'x', 'Other Carol', now())");
  const other = (await sql.query("SELECT id FROM users WHERE email = 'carol@sec.io'")).rows[0].id;
  const app = new pg.Client({ connectionString: APP_URL });
  await app.connect();
  try {
    await app.query('BEGIN');
    await app.query("SELECT set_config('nestgen.user_id', $1, true)", [other]);
    assert.equal(
      (await app.query('SELECT count(*)::int AS n FROM organization_users WHERE organization_id = $1', [org.A])).rows[0].n,
      0,
      'the address alone no longer matches',
    );
    await app.query('ROLLBACK');
  } finally {
    await app.end();
  }
});

test('an invitation makes no one a member: the invitee stays hidden and keeps their organization', async () => {
  // Owner A invites B's owner (a verified address) and many others at once.
  const rows = [
    { email: 'ownerb@sec.io', name: 'B' },
    { email: 'memberb@sec.io', name: 'M' },
    { email: 'nobody-at-all@sec.io', name: 'N' },
  ];
  expectStatus(await call('POST', '/v1/organization-users/bulk', rows, bearer(tok.ownerA)), 201, 'bulk invite');
  expectError(await call('GET', `/users/${user.ownerB.id}`, undefined, bearer(tok.ownerA)), 404, "an invitee's account");
  const seen = expectStatus(await call('GET', '/users?limit=100', undefined, bearer(tok.ownerA)), 200, 'owner A lists users').body.data;
  assert.ok(!seen.some((u) => [user.ownerB.id, user.memberB.id].includes(u.id)), 'invitations tell nothing about accounts');
  const t = await login('ownerb@sec.io');
  assert.equal(claims(t).org, org.B, "the invitee's organization is unchanged");
  const mine = expectStatus(await call('GET', '/auth/organizations', undefined, bearer(t)), 200, 'organizations').body.data;
  assert.deepEqual(
    mine.map((o) => o.id),
    [org.B],
  );
  tok.ownerB = t;
});

test("a guest of tenant B cannot read tenant A's accounts, audit rows or tenant-column rows", async () => {
  // Tenant A's data, made by its owner.
  const project = expectStatus(await call('POST', '/v1/projects', { name: 'A secret project' }, bearer(tok.ownerA)), 201, 'project A').body
    .data;
  const folder = expectStatus(await call('POST', '/folders', { name: 'A folder' }, bearer(tok.ownerA)), 201, 'folder A').body.data;
  const file = {
    storageProvider: 'local',
    storagePath: '/a/1',
    originalName: 'a.txt',
    filename: `a-${Date.now()}.txt`,
    mimeType: 'text/plain',
    sizeBytes: '3',
    checksum: 'x'.repeat(64),
  };
  expectStatus(await call('POST', '/files', file, bearer(tok.ownerA)), 201, 'file A');
  expectStatus(
    await call('POST', '/metrics', { time: new Date().toISOString(), metricName: 'cpu', value: 1 }, bearer(tok.ownerA)),
    201,
    'metric A',
  );
  assert.equal(folder.organizationId, org.A);
  expectStatus(await call('DELETE', `/v1/projects/${project.id}`, undefined, bearer(tok.ownerA)), 204, 'soft delete in A');

  const g = bearer(tok.guestB);
  const users = expectStatus(await call('GET', '/users?limit=100', undefined, g), 200, 'guest lists users').body.data;
  assert.deepEqual(
    users.map((u) => u.id),
    [user.guestB.id],
    'a guest sees only their own account',
  );
  for (const u of users)
    assert.ok(!('failedLoginAttempts' in u) && !('lockedUntil' in u) && !('passwordHash' in u), 'sign-in state is never returned');
  expectError(await call('GET', `/users/${user.ownerA.id}`, undefined, g), 404, "another tenant's account");
  assert.deepEqual(expectStatus(await call('GET', '/users?email=eq.ownera@sec.io', undefined, g), 200, 'filter by email').body.data, []);
  for (const path of ['/audit-logs', '/field-changes', '/user-roles', '/user-permissions', '/roles', '/notification-templates']) {
    expectError(await call('GET', path, undefined, g), 403, `guest reads platform table ${path}`);
  }
  for (const path of ['/files', '/folders', '/metrics', '/v1/projects', '/v1/organization-users']) {
    const rows = expectStatus(await call('GET', `${path}?limit=100`, undefined, g), 200, `guest lists ${path}`).body.data;
    assert.ok(
      rows.every((r) => r.organizationId === org.B),
      `${path} shows another tenant's rows`,
    );
    expectError(await call('GET', path, undefined, bearer(tok.guestB, { 'x-organization-id': org.A })), 403, `${path} in tenant A`);
  }
  expectError(await call('GET', '/v1/projects?withDeleted=true', undefined, g), 403, 'withDeleted for a guest');
  expectError(await call('GET', '/v1/projects?withDeleted=true', undefined, bearer(tok.memberB)), 403, 'withDeleted for a user');
  expectStatus(
    await call('GET', '/v1/projects?withDeleted=true', undefined, bearer(tok.ownerB)),
    200,
    'withDeleted for an admin (restore)',
  );
  // Owners and admins of a tenant read its members' accounts, and only those.
  const seen = expectStatus(await call('GET', '/users?limit=100', undefined, bearer(tok.ownerB)), 200, 'owner lists users')
    .body.data.map((u) => u.id)
    .sort();
  assert.deepEqual(seen, [user.ownerB.id, user.memberB.id, user.guestB.id].sort(), "owner of B sees B's members only");
  expectError(await call('GET', `/users/${user.ownerA.id}`, undefined, bearer(tok.ownerB)), 404, "owner of B reads A's owner");
  const mine = expectStatus(await call('GET', '/users?limit=100', undefined, bearer(tok.memberB)), 200, 'member lists users').body.data;
  assert.deepEqual(
    mine.map((u) => u.id),
    [user.memberB.id],
    'a plain member sees only their own account',
  );
  expectError(
    await call('PATCH', `/users/${user.memberB.id}`, { name: 'Owned' }, bearer(tok.ownerB)),
    404,
    "an owner cannot edit a member's account",
  );
  expectStatus(
    await call('PATCH', `/users/${user.memberB.id}`, { name: 'Member B' }, bearer(tok.memberB)),
    200,
    'a user edits their own account',
  );
  // ... but not what the account may do.
  expectError(
    await call('PATCH', `/users/${user.memberB.id}`, { status: 'active' }, bearer(tok.memberB)),
    403,
    'a user sets their own status',
  );
  expectError(
    await call('POST', '/auth/register', { email: 'sneaky@sec.io', password: PASSWORD, name: 'S', status: 'active' }),
    400,
    'status at sign-up',
  );
  expectStatus(
    await call('PATCH', `/users/${user.guestB.id}`, { status: 'active' }, bearer(tok.root)),
    200,
    'a platform admin sets a status',
  );
  // A platform admin sees every account.
  const all = expectStatus(await call('GET', '/users?limit=100', undefined, bearer(tok.root)), 200, 'root lists users').body.data;
  assert.ok(all.length >= 6);
});

test('owner and actor columns are set by the server; counters are read-only', async () => {
  const m = bearer(tok.memberB);
  const file = {
    storageProvider: 'local',
    storagePath: '/b/1',
    originalName: 'b.txt',
    filename: `b-${Date.now()}.txt`,
    mimeType: 'text/plain',
    sizeBytes: '3',
    checksum: 'y'.repeat(64),
  };
  expectError(await call('POST', '/files', { ...file, ownerId: user.ownerA.id }, m), 400, 'file owned by someone else');
  expectError(await call('POST', '/files', { ...file, downloadedCount: 1000 }, m), 400, 'a counter set by the client');
  const created = expectStatus(await call('POST', '/files', file, m), 201, 'file').body.data;
  assert.equal(created.ownerId, user.memberB.id, 'the owner is the signed-in user');
  assert.equal(created.organizationId, org.B);
  expectError(await call('PATCH', `/files/${created.id}`, { ownerId: user.ownerA.id }, m), 400, 'move a file to someone else');
  expectError(
    await call('POST', '/files/bulk', [{ ...file, filename: `c-${Date.now()}`, ownerId: user.ownerA.id }], m),
    400,
    'bulk with an owner',
  );
  const folder = expectStatus(await call('POST', '/folders', { name: 'mine' }, m), 201, 'folder').body.data;
  assert.equal(folder.ownerId, user.memberB.id);
  expectError(
    await call('POST', '/notifications', { userId: user.ownerA.id, type: 'in-app', message: 'hi' }, m),
    400,
    'a notification for someone else',
  );
  const note = expectStatus(await call('POST', '/notifications', { type: 'in-app', message: 'note to self' }, m), 201, 'notification').body
    .data;
  assert.equal(note.userId, user.memberB.id);
  // file_shares carries no tenant column: platform data, only a platform admin writes it here.
  const r = bearer(tok.root);
  const share = { fileId: created.id, shareToken: 's'.repeat(40) };
  expectError(await call('POST', '/file-shares', { ...share, sharedBy: user.ownerA.id }, r), 400, 'shared by someone else');
  expectError(await call('POST', '/file-shares', { ...share, downloadCount: 5 }, r), 400, 'download count from the client');
  const made = expectStatus(await call('POST', '/file-shares', share, r), 201, 'share').body.data;
  assert.equal(made.sharedBy, user.root.id);
  assert.equal(made.downloadCount, 0);
});

test('own rows hold with the application filter off: row-level security alone', async () => {
  assert.ok(NOFILTER, 'second app instance');
  const others = [];
  for (const [who, message] of [
    ['ownerB', 'for the owner'],
    ['guestB', 'for the guest'],
    ['memberB', 'mine'],
  ]) {
    others.push(
      (
        await sql.query("INSERT INTO notifications (user_id, type, message) VALUES ($1, 'in-app', $2) RETURNING id, user_id", [
          user[who].id,
          message,
        ])
      ).rows[0],
    );
  }
  const m = { authorization: `Bearer ${tok.memberB}` };
  // That instance really has no filter of its own: with the policies switched off, it leaks.
  await sql.query('ALTER TABLE notifications DISABLE ROW LEVEL SECURITY');
  try {
    const leak = await at(NOFILTER, 'GET', '/notifications?limit=100', undefined, m);
    assert.ok(
      leak.body.data.some((n) => n.userId !== user.memberB.id),
      "without row-level security the filterless instance shows others' rows",
    );
    const held = expectStatus(await call('GET', '/notifications?limit=100', undefined, bearer(tok.memberB)), 200, 'the normal instance');
    assert.ok(
      held.body.data.every((n) => n.userId === user.memberB.id),
      "the app's own filter holds without the policies",
    );
  } finally {
    await sql.query('ALTER TABLE notifications ENABLE ROW LEVEL SECURITY');
  }
  const list = await at(NOFILTER, 'GET', '/notifications?limit=100', undefined, m);
  assert.equal(list.status, 200, list.text);
  assert.ok(list.body.data.length > 0 && list.body.data.every((n) => n.userId === user.memberB.id), "another user's notification listed");
  const theirs = others[0].id;
  for (const [method, body] of [['GET'], ['PATCH', { message: 'changed' }], ['DELETE']]) {
    const r = await at(NOFILTER, method, `/notifications/${theirs}`, body, m);
    assert.equal(r.status, 404, `${method} another user's notification: ${r.text}`);
  }
  assert.equal((await sql.query('SELECT message FROM notifications WHERE id = $1', [theirs])).rows[0].message, 'for the owner');
  // The same in SQL as the app's role.
  const app = new pg.Client({ connectionString: APP_URL });
  await app.connect();
  try {
    assert.equal((await app.query('SELECT count(*)::int AS n FROM notifications')).rows[0].n, 0, 'no user set: no rows');
    await app.query('BEGIN');
    await app.query("SELECT set_config('nestgen.user_id', $1, true)", [user.memberB.id]);
    const seen = (await app.query('SELECT DISTINCT user_id FROM notifications')).rows.map((r) => r.user_id);
    assert.deepEqual(seen, [user.memberB.id]);
    await assert.rejects(
      app.query("INSERT INTO notifications (user_id, type, message) VALUES ($1, 'in-app', 'forged')", [user.ownerB.id]),
      /row-level security/,
    );
    await app.query('ROLLBACK');
  } finally {
    await app.end();
  }
});

test('429 with Retry-After past the limits, counted across instances; failures from one address do not lock the owner out', async () => {
  assert.ok(LIMITED[0] && LIMITED[1], 'rate-limited instances');
  const ip = { 'x-forwarded-for': '10.1.1.1' };
  // RATE_LIMIT_PER_MINUTE=30, shared through Redis by both instances.
  for (let i = 0; i < 30; i++) {
    const r = await at(LIMITED[i % 2], 'GET', '/auth/me', undefined, ip);
    assert.equal(r.status, 401, `request ${i + 1}: ${r.text}`);
  }
  const over = await at(LIMITED[0], 'GET', '/auth/me', undefined, ip);
  assert.equal(over.status, 429, over.text);
  assert.ok(Number(over.headers.get('retry-after')) > 0, 'Retry-After');
  assert.equal(over.body.statusCode, 429);
  assert.equal(over.headers.get('x-content-type-options'), 'nosniff', 'a 429 carries the security headers too');
  assert.ok(over.headers.get('content-security-policy'), 'a 429 carries the content security policy');
  assert.equal((await at(LIMITED[1], 'GET', '/auth/me', undefined, ip)).status, 429, 'the other instance counts the same address');
  assert.equal(
    (await at(LIMITED[1], 'GET', '/auth/me', undefined, { 'x-forwarded-for': '10.1.1.2' })).status,
    401,
    'another address is not limited',
  );
  // Wrong passwords from an attacker's address: after AUTH_MAX_FAILED_LOGINS=3 it must wait.
  const attacker = { 'x-forwarded-for': '10.2.2.2' };
  for (let i = 0; i < 3; i++) {
    const r = await at(LIMITED[i % 2], 'POST', '/auth/login', { email: 'ownerb@sec.io', password: 'guess guess guess' }, attacker);
    assert.equal(r.status, 401, r.text);
  }
  const wait = await at(LIMITED[1], 'POST', '/auth/login', { email: 'ownerb@sec.io', password: PASSWORD }, attacker);
  assert.equal(wait.status, 429, `even the right password waits from the attacker's address: ${wait.text}`);
  assert.ok(Number(wait.headers.get('retry-after')) >= 1);
  // The owner, elsewhere, signs in.
  const owner = await at(
    LIMITED[0],
    'POST',
    '/auth/login',
    { email: 'ownerb@sec.io', password: PASSWORD },
    { 'x-forwarded-for': '10.3.3.3' },
  );
  assert.equal(owner.status, 200, owner.text);
  // Security headers.
  const h = await at(LIMITED[0], 'GET', '/health');
  assert.equal(h.headers.get('x-content-type-options'), 'nosniff');
  assert.match(h.headers.get('strict-transport-security') ?? '', /max-age=/);
  assert.ok(h.headers.get('content-security-policy'));
});

test('what the HTTP parser refuses (headers over 16 KB, malformed HTTP) answers in the app\'s shape, with its headers', async () => {
  const big = await fetch(`${process.env.BASE_URL}/health`, { headers: { 'x-filler': 'a'.repeat(20_000) } });
  assert.equal(big.status, 431);
  const body = await big.json();
  assert.equal(body.statusCode, 431);
  assert.equal(body.error, 'Request Header Fields Too Large');
  assert.match(body.requestId, /^[0-9a-f-]{36}$/);
  assert.equal(big.headers.get('x-request-id'), body.requestId);
  assert.equal(big.headers.get('x-content-type-options'), 'nosniff');
  // Not HTTP at all, over a raw socket.
  const { hostname, port } = new URL(process.env.BASE_URL);
  const answer = await new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write('HELLO THERE\r\n\r\n'));
    let text = '';
    socket.on('data', (d) => (text += d));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(answer, /x-frame-options: SAMEORIGIN/);
  assert.equal(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).statusCode, 400);
});

test('hostile input: deep JSON, huge values, malformed ids, email floods and guessed codes get 4xx, never 5xx or a lock-out', async () => {
  // Written as text: JSON.stringify itself would overflow on it.
  const deep = `${'['.repeat(5000)}"x"${']'.repeat(5000)}`;
  const json = { 'content-type': 'application/json' };
  expectError(
    await call('POST', '/auth/login', `{"email":"a@b.c","password":"xxxxxxxxxx","x":${deep}}`, { raw: true, headers: json }),
    400,
    'JSON 5000 levels deep',
  );
  expectError(
    await call('POST', '/notifications', `{"type":"in-app","message":"m","data":{"a":${deep}}}`, {
      raw: true,
      headers: { ...json, authorization: `Bearer ${tok.memberB}` },
    }),
    400,
    'deep JSON in a json column',
  );
  // 1000 random CJK characters (3,000 bytes that do not compress) in an indexed varchar(1000).
  const noise = Array.from({ length: 1000 }, () => String.fromCodePoint(0x4e00 + Math.floor(Math.random() * 0x5000))).join('');
  expectError(await call('POST', '/folders', { name: 'f', path: noise }, bearer(tok.memberB)), 400, 'a value too large for its index');
  expectError(
    await call('GET', '/v1/projects', undefined, bearer(tok.memberB, { 'x-organization-id': 'abc' })),
    400,
    'malformed organization id',
  );
  expectError(
    await call('POST', '/auth/organization', { organizationId: 'abc' }, bearer(tok.memberB)),
    403,
    'malformed organization id in the body',
  );
  expectError(await call('POST', '/auth/invitations/abc/accept', undefined, bearer(tok.memberB)), 404, 'malformed invitation id');
  // Ten reset requests for someone else's address (the limited instances keep the default of
  // 10 emails a minute per account): the eleventh is refused, the owner still signs in.
  for (let i = 0; i < 10; i++) {
    const r = await at(LIMITED[i % 2], 'POST', '/auth/password/forgot', { email: 'guestb@sec.io' }, { 'x-forwarded-for': '10.6.6.6' });
    assert.equal(r.status, 202, r.text);
  }
  assert.equal(
    (await at(LIMITED[0], 'POST', '/auth/password/forgot', { email: 'guestb@sec.io' }, { 'x-forwarded-for': '10.6.6.6' })).status,
    429,
    'an email flood',
  );
  const owner = await at(
    LIMITED[1],
    'POST',
    '/auth/login',
    { email: 'guestb@sec.io', password: PASSWORD },
    { 'x-forwarded-for': '10.6.6.7' },
  );
  assert.equal(owner.status, 200, `the flood does not lock the owner out: ${owner.text}`);
  // A stolen access token cannot brute-force the current password.
  const t = bearer(tok.guestB);
  for (let i = 0; i < 5; i++)
    expectError(
      await call('POST', '/auth/password/change', { currentPassword: `guess ${i}`, newPassword: 'a brand new password' }, t),
      401,
      `guess ${i + 1}`,
    );
  const stop = expectError(
    await call('POST', '/auth/password/change', { currentPassword: PASSWORD, newPassword: 'a brand new password' }, t),
    429,
    'guessing stops',
  );
  assert.ok(Number(stop.headers.get('retry-after')) > 0);
  // The trail keeps no secret: the generated audit replaced the schema's own trigger on users.
  const rows = expectStatus(
    await call('GET', '/audit-logs?tableName=eq.users&limit=100', undefined, bearer(tok.root)),
    200,
    'audit rows of users',
  ).body.data;
  assert.ok(rows.length > 0, 'users are audited');
  for (const r of rows) {
    for (const v of [r.oldValues, r.newValues]) {
      if (v && v.password_hash !== undefined) assert.equal(v.password_hash, '***', 'password hashes are masked');
      if (v && v.two_factor_secret) assert.equal(v.two_factor_secret, '***');
    }
  }
});

test('access tokens name their key; the previous secret still verifies during a rotation', async () => {
  const header = JSON.parse(Buffer.from(tok.memberB.split('.')[0], 'base64url').toString());
  assert.ok(typeof header.kid === 'string' && header.kid.length > 0, 'kid');
  // The limited instances sign with a new secret and list this instance's as previous.
  const old = await at(LIMITED[0], 'GET', '/auth/me', undefined, { authorization: `Bearer ${tok.memberB}`, 'x-forwarded-for': '10.5.5.5' });
  assert.equal(old.status, 200, `a token signed with the previous key: ${old.text}`);
  const fresh = await at(
    LIMITED[0],
    'POST',
    '/auth/login',
    { email: 'memberb@sec.io', password: PASSWORD },
    { 'x-forwarded-for': '10.5.5.6' },
  );
  assert.equal(fresh.status, 200, fresh.text);
  assert.notEqual(JSON.parse(Buffer.from(fresh.body.accessToken.split('.')[0], 'base64url').toString()).kid, header.kid);
  expectError(await call('GET', '/auth/me', undefined, bearer(fresh.body.accessToken)), 401, 'a key this instance does not have');
});

test('one-time codes work once; second-factor secrets are encrypted; a code lifts a lock', async () => {
  const t = bearer(tok.memberB);
  const setup = expectStatus(await call('POST', '/auth/2fa/enable', undefined, t), 200, 'enable').body;
  const stored = (await sql.query('SELECT two_factor_secret FROM users WHERE id = $1', [user.memberB.id])).rows[0].two_factor_secret;
  assert.match(stored, /^v1\./, 'sealed');
  assert.ok(!stored.includes(setup.secret), 'the secret is not stored in clear');
  const step = await safeStep();
  expectStatus(await call('POST', '/auth/2fa/verify', { code: totp(setup.secret, step - 1) }, t), 204, 'verify with the previous step');
  expectError(await call('POST', '/auth/login', { email: 'memberb@sec.io', password: PASSWORD }), 401, 'code required');
  const code = totp(setup.secret, step);
  expectStatus(await call('POST', '/auth/login', { email: 'memberb@sec.io', password: PASSWORD, totp: code }), 200, 'sign in with a code');
  expectError(await call('POST', '/auth/login', { email: 'memberb@sec.io', password: PASSWORD, totp: code }), 401, 'the same code again');
  expectError(
    await call('POST', '/auth/login', { email: 'memberb@sec.io', password: PASSWORD, totp: totp(setup.secret, step - 1) }),
    401,
    'an older code',
  );
  // A locked account: the password alone is not enough, the password and a fresh code are.
  await sql.query("UPDATE users SET locked_until = now() + interval '1 hour' WHERE id = $1", [user.memberB.id]);
  expectError(await call('POST', '/auth/login', { email: 'memberb@sec.io', password: PASSWORD }), 423, 'locked');
  expectStatus(
    await call('POST', '/auth/login', { email: 'memberb@sec.io', password: PASSWORD, totp: totp(setup.secret, step + 1) }),
    200,
    'a code lifts the lock',
  );
  assert.equal((await sql.query('SELECT locked_until FROM users WHERE id = $1', [user.memberB.id])).rows[0].locked_until, null);
  expectStatus(await call('GET', '/auth/me', undefined, t), 200, 'existing sessions kept working through the lock');
});

test('a database error in an access lookup is 503 and logged, never 401/403/404', async () => {
  const m = bearer(tok.memberB);
  expectStatus(await call('GET', '/v1/projects', undefined, m), 200, 'before');
  // The membership lookup fails (permission denied on the membership table).
  await sql.query(`REVOKE SELECT ON organization_users FROM "${APP_ROLE}"`);
  try {
    expectError(await call('GET', '/v1/projects', undefined, m), 503, 'membership lookup failing');
  } finally {
    await sql.query(`GRANT SELECT ON organization_users TO "${APP_ROLE}"`);
  }
  expectStatus(await call('GET', '/v1/projects', undefined, m), 200, 'after the grant');
  // The database refuses the app's connections altogether.
  const name = (await sql.query('SELECT current_database() AS d')).rows[0].d;
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL.replace(/\/[^/?]+(\?|$)/, '/postgres$1') });
  await admin.connect();
  try {
    await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND usename = $2', [name, APP_ROLE]);
    for (const path of ['/v1/projects', '/users', '/notifications', '/auth/me']) {
      expectError(await call('GET', path, undefined, m), 503, `${path} with the database down`);
    }
  } finally {
    await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
    await admin.end();
  }
  expectStatus(await call('GET', '/v1/projects', undefined, m), 200, 'recovered without a restart');
});
