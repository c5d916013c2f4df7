// Auth and RBAC over HTTP: a project made with the seed's commands
//   generate users --features.auth=true --features.rbac=true
//   generate roles --features.rbac=true
//   generate permissions --features.rbac=true
// Route × role matrix, inheritance, expiry, grants and revokes, lockout, refresh rotation and
// reuse, tampered tokens, second factor, no secret in any response.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { call, db, expectError, expectStatus, seenBodies } from './lib.mjs';

const SECRET = process.env.AUTH_JWT_SECRET;
const PASSWORD = 'correct horse battery staple';
let sql;
const users = {};

const auth = (token) => ({ headers: { authorization: `Bearer ${token}` } });

async function register(email, name = email.split('@')[0]) {
  const r = expectStatus(await call('POST', '/auth/register', { email, password: PASSWORD, name }), 201, `register ${email}`);
  assert.ok(!('passwordHash' in r.body.data));
  return r.body.data;
}

async function login(email, password = PASSWORD, totp) {
  return call('POST', '/auth/login', { email, password, ...(totp ? { totp } : {}) });
}

async function token(email) {
  return expectStatus(await login(email), 200, `login ${email}`).body.accessToken;
}

async function roleId(slug) {
  return (await sql.query('SELECT id FROM roles WHERE slug = $1', [slug])).rows[0].id;
}

async function permId(slug) {
  return (await sql.query('SELECT id FROM permissions WHERE slug = $1', [slug])).rows[0].id;
}

before(async () => {
  sql = await db();
  for (const name of ['anon', 'guest', 'member', 'manager', 'admin', 'root', 'expired', 'revoked', 'direct', 'nobody']) {
    users[name] = await register(`${name}@example.com`);
  }
  // The first super-admin is made in SQL (as an operator would); the rest through the API.
  await sql.query('INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)', [users.root.id, await roleId('super-admin')]);
  const root = await token('root@example.com');
  const give = async (who, slug, extra = {}) =>
    expectStatus(
      await call('POST', `/rbac/users/${users[who].id}/roles`, { roleId: await roleId(slug), ...extra }, auth(root)),
      204,
      `give ${who} ${slug}`,
    );
  await give('guest', 'guest');
  await give('member', 'user');
  await give('manager', 'manager');
  await give('admin', 'admin');
  await give('expired', 'admin', { expiresAt: '2000-01-01T00:00:00Z' });
  await give('revoked', 'manager');
  await give('direct', 'guest');
  expectStatus(
    await call(
      'POST',
      `/rbac/users/${users.revoked.id}/permissions`,
      { permissionId: await permId('users:read'), granted: false },
      auth(root),
    ),
    204,
    'revoke users:read',
  );
  expectStatus(
    await call(
      'POST',
      `/rbac/users/${users.direct.id}/permissions`,
      { permissionId: await permId('roles:delete'), granted: true },
      auth(root),
    ),
    204,
    'grant roles:delete',
  );
});

after(async () => {
  await sql?.end();
});

// What each account may do (resource:action), from db/03-rbac.sql's defaults plus the changes above.
const ACTIONS = ['read', 'create', 'bulk-create', 'update', 'delete', 'restore'];
function allowed(who, resource, action) {
  const by = {
    guest: ['read'],
    member: ['read', 'create'],
    manager: ['read', 'create', 'update', 'bulk-create'],
    admin: ACTIONS,
    root: ACTIONS,
    expired: [],
    nobody: [],
    revoked: ['read', 'create', 'update', 'bulk-create'],
    direct: ['read'],
  }[who];
  if (who === 'revoked' && resource === 'users' && action === 'read') return false;
  if (who === 'direct' && resource === 'roles' && action === 'delete') return true;
  if (action === 'read' || who === 'root') return by.includes(action);
  // Accounts: a user changes their own (user and up); deleting and restoring is admin's.
  // Writes to role and permission tables: no default role (holding them means being able
  // to make oneself anything).
  if (resource === 'users') return action === 'update' ? by.includes('create') : who === 'admin';
  if (resource === 'roles' || resource === 'permissions') return false;
  return by.includes(action);
}

/** Accounts are scoped to their owner: only holders of users:all (admin, root) reach another user's row. */
function reaches(who, resource, path) {
  if (resource !== 'users' || /^\/users(\?|$)/.test(path)) return true;
  return who === 'admin' || who === 'root';
}

let seq = 0;
const uniq = () => `${Date.now()}-${++seq}`;

/** One request per route of a resource, each on a row of its own. */
async function routes(resource, root) {
  const make = {
    roles: () => ({ name: `Role ${uniq()}`, slug: `role-${uniq()}` }),
    permissions: () => ({ name: `Perm ${uniq()}`, slug: `p:${uniq()}`, resource: 'x', action: 'y' }),
  }[resource];
  const fresh = async () => {
    if (resource === 'users') return (await register(`victim-${uniq()}@example.com`)).id;
    return expectStatus(await call('POST', `/${resource}`, make(), auth(root)), 201, `fresh ${resource}`).body.data.id;
  };
  const out = [
    ['read', 'GET', () => `/${resource}`, undefined],
    ['read', 'GET', async () => `/${resource}/${await fresh()}`, undefined],
    [
      'update',
      'PATCH',
      async () => `/${resource}/${await fresh()}`,
      () => (resource === 'users' ? { name: 'Renamed' } : { description: 'changed' }),
    ],
    ['delete', 'DELETE', async () => `/${resource}/${await fresh()}`, undefined],
  ];
  if (resource !== 'users') {
    out.push(['create', 'POST', () => `/${resource}`, make], ['bulk-create', 'POST', () => `/${resource}/bulk`, () => [make(), make()]]);
  } else {
    out.push([
      'restore',
      'POST',
      async () => {
        const id = await fresh();
        expectStatus(await call('DELETE', `/users/${id}`, undefined, auth(root)), 204, 'delete for restore');
        return `/users/${id}/restore`;
      },
      undefined,
    ]);
  }
  return out;
}

test('route × role matrix: 401 without a token, 403 without the permission, 2xx with it', async () => {
  const root = await token('root@example.com');
  const tokens = {};
  for (const who of ['guest', 'member', 'manager', 'admin', 'root', 'expired', 'revoked', 'direct', 'nobody']) {
    tokens[who] = await token(`${who}@example.com`);
  }
  let checked = 0;
  for (const resource of ['users', 'roles', 'permissions']) {
    for (const [action, method, path, body] of await routes(resource, root)) {
      const p = await path();
      expectError(await call(method, p, body?.()), 401, `anonymous ${method} ${p}`);
      for (const [who, t] of Object.entries(tokens)) {
        const p2 = method === 'GET' && action === 'read' ? p : await path();
        const r = await call(method, p2, body?.(), auth(t));
        const what = `${who} ${method} ${p2} (${resource}:${action})`;
        if (allowed(who, resource, action) && !reaches(who, resource, p2)) {
          expectError(r, 404, `${what}: another user's account`);
        } else if (allowed(who, resource, action)) {
          assert.ok(r.status >= 200 && r.status < 300, `${what}: expected success, got ${r.status} ${r.text.slice(0, 200)}`);
        } else {
          expectError(r, 403, what);
          assert.match(r.body.message, new RegExp(`${resource}:${action}`));
        }
        checked++;
      }
    }
  }
  assert.ok(checked >= 100, `checked ${checked} combinations`);
  // Users are created through /auth/register only.
  expectStatus(await call('POST', '/users', { email: 'x@example.com', name: 'x' }, auth(root)), 404, 'no POST /users');
});

test('effective permissions: inheritance through parent roles, expiry, grants and revokes', async () => {
  const root = await token('root@example.com');
  const eff = async (who) =>
    expectStatus(await call('GET', `/rbac/users/${users[who].id}/permissions`, undefined, auth(root)), 200, `effective ${who}`).body.data;
  const manager = await eff('manager');
  assert.deepEqual(manager.roles, ['guest', 'manager', 'user'], 'manager inherits user, which inherits guest');
  assert.ok(manager.permissions.includes('users:read'), 'read comes from guest through the chain');
  assert.ok(
    !manager.permissions.includes('roles:update') && !manager.permissions.includes('users:all'),
    "no default role writes roles; every account is the admin's",
  );
  assert.ok(manager.permissions.includes('users:update'), 'a user changes their own account');
  assert.ok((await eff('admin')).permissions.includes('users:all'));
  assert.deepEqual((await eff('expired')).permissions, [], 'an expired role grants nothing');
  const revoked = await eff('revoked');
  assert.ok(!revoked.permissions.includes('users:read') && revoked.permissions.includes('roles:read'), 'a direct revoke wins over roles');
  assert.ok((await eff('direct')).permissions.includes('roles:delete'), 'a direct grant adds');
  const me = expectStatus(await call('GET', '/auth/me', undefined, auth(await token('manager@example.com'))), 200, 'me').body;
  assert.deepEqual(me.roles, manager.roles);
  // Admin routes need roles:manage.
  expectError(
    await call('GET', `/rbac/users/${users.guest.id}/permissions`, undefined, auth(await token('manager@example.com'))),
    403,
    'manager cannot manage roles',
  );
  expectStatus(
    await call('GET', `/rbac/users/${users.guest.id}/permissions`, undefined, auth(await token('admin@example.com'))),
    200,
    'admin can',
  );
  // No one hands out more than they hold: admin (roles:manage) cannot give super-admin or a
  // role with permissions admin lacks, nor grant a permission admin does not have.
  const adminToken = await token('admin@example.com');
  const target = users.nobody.id;
  const denied = expectError(
    await call('POST', `/rbac/users/${target}/roles`, { roleId: await roleId('super-admin') }, auth(adminToken)),
    403,
    'admin gives super-admin',
  );
  assert.match(denied.body.message, /super-admin/);
  // Nor a role that inherits from super-admin (it is super-admin).
  await sql.query(
    "INSERT INTO roles (name, slug, level, parent_role_id) SELECT 'Platform owner', 'platform-owner', 90, id FROM roles WHERE slug = 'super-admin' ON CONFLICT DO NOTHING",
  );
  const heir = expectError(
    await call('POST', `/rbac/users/${target}/roles`, { roleId: await roleId('platform-owner') }, auth(adminToken)),
    403,
    'admin gives a child of super-admin',
  );
  assert.match(heir.body.message, /inherits/);
  await sql.query("INSERT INTO roles (name, slug, level) VALUES ('Role editor', 'role-editor', 60) ON CONFLICT DO NOTHING");
  await sql.query(
    "INSERT INTO role_permissions (role_id, permission_id) SELECT r.id, p.id FROM roles r, permissions p WHERE r.slug = 'role-editor' AND p.slug = 'roles:create' ON CONFLICT DO NOTHING",
  );
  const missing = expectError(
    await call('POST', `/rbac/users/${target}/roles`, { roleId: await roleId('role-editor') }, auth(adminToken)),
    403,
    'admin gives a role with more',
  );
  assert.deepEqual(missing.body.details.missing, ['roles:create']);
  expectError(
    await call(
      'POST',
      `/rbac/users/${target}/permissions`,
      { permissionId: await permId('roles:create'), granted: true },
      auth(adminToken),
    ),
    403,
    'admin grants what admin lacks',
  );
  expectStatus(
    await call('POST', `/rbac/users/${target}/roles`, { roleId: await roleId('manager') }, auth(adminToken)),
    204,
    'admin gives manager',
  );
  expectStatus(
    await call('DELETE', `/rbac/users/${target}/roles/${await roleId('manager')}`, undefined, auth(adminToken)),
    204,
    'and takes it back',
  );
  expectError(
    await call('POST', `/rbac/users/${target}/roles`, { roleId: '00000000-0000-0000-0000-000000000000' }, auth(adminToken)),
    404,
    'unknown role',
  );
  // Self-service escalation through the generic routes is closed too.
  const member = await token('member@example.com');
  expectError(await call('POST', '/roles', { name: 'Mine', slug: `mine-${uniq()}` }, auth(member)), 403, 'member creates a role');
  // A change applies at once (cache invalidated): take guest's role away.
  const guestToken = await token('guest@example.com');
  expectStatus(await call('GET', '/roles', undefined, auth(guestToken)), 200, 'guest reads');
  expectStatus(
    await call('DELETE', `/rbac/users/${users.guest.id}/roles/${await roleId('guest')}`, undefined, auth(root)),
    204,
    'take role',
  );
  expectError(await call('GET', '/roles', undefined, auth(guestToken)), 403, 'guest no longer reads');
  // And a change made directly in SQL too (NOTIFY from the trigger).
  await sql.query('INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)', [users.guest.id, await roleId('guest')]);
  let ok = false;
  for (let i = 0; i < 100 && !ok; i++) {
    ok = (await call('GET', '/roles', undefined, auth(guestToken))).status === 200;
    if (!ok) await new Promise((r) => setTimeout(r, 100));
  }
  // The permission cache lives RBAC_CACHE_TTL_MS (30 s): within 10 s only the notification explains it.
  assert.ok(ok, 'a role given in SQL counts within 10 s');
});

test('failures from one address slow that address down; many failures lock the account; inactive accounts refused', async () => {
  const email = 'lock@example.com';
  await register(email);
  const from = (ip) => ({ headers: { 'x-forwarded-for': ip } });
  const attempt = (ip, password = PASSWORD) => call('POST', '/auth/login', { email, password }, from(ip));
  const max = Number(process.env.AUTH_MAX_FAILED_LOGINS);
  for (let i = 0; i < max; i++) expectError(await attempt('10.0.0.1', 'wrong password'), 401, `failure ${i + 1}`);
  const slowed = expectError(await attempt('10.0.0.1'), 429, "the attacker's address waits, even with the right password");
  const wait = Number(slowed.headers.get('retry-after'));
  assert.ok(wait >= 1, 'Retry-After');
  // The owner, elsewhere, is not locked out.
  expectStatus(await attempt('10.0.0.2'), 200, 'the owner from another address');
  // After the wait the address may try again.
  await new Promise((r) => setTimeout(r, wait * 1000 + 100));
  expectError(await attempt('10.0.0.1', 'wrong again'), 401, 'after the wait: an answer, not 429');
  // Failures from anywhere add up: past AUTH_ACCOUNT_LOCK_AFTER the account locks (423).
  const lockAfter = Number(process.env.AUTH_ACCOUNT_LOCK_AFTER);
  for (let i = 1; i < lockAfter; i++) expectError(await attempt(`10.1.0.${i}`, 'wrong password'), 401, `distributed failure ${i}`);
  const locked = expectError(await attempt('10.2.0.1'), 423, 'locked, with the right password');
  assert.ok(locked.body.details.lockedUntil);
  assert.match(locked.body.message, /reset your password/);
  const row = (await sql.query('SELECT failed_login_attempts, locked_until FROM users WHERE email = $1', [email])).rows[0];
  assert.equal(row.failed_login_attempts, lockAfter);
  await sql.query("UPDATE users SET locked_until = now() - interval '1 second' WHERE email = $1", [email]);
  expectStatus(await attempt('10.2.0.2'), 200, 'unlocked after locked_until');
  const after = (await sql.query('SELECT failed_login_attempts, locked_until FROM users WHERE email = $1', [email])).rows[0];
  assert.deepEqual([after.failed_login_attempts, after.locked_until], [0, null], 'counter reset');
  await sql.query("UPDATE users SET status = 'suspended' WHERE email = $1", [email]);
  expectError(await attempt('10.2.0.3'), 403, 'suspended account');
  expectError(await login('nobody-here@example.com'), 401, 'unknown email: same answer as a wrong password');
});

test('a suspended or deleted account loses access within seconds, not when its token expires', async () => {
  for (const [email, change] of [
    ['suspend-me@example.com', "UPDATE users SET status = 'suspended' WHERE email = $1"],
    ['delete-me@example.com', 'UPDATE users SET deleted_at = now() WHERE email = $1'],
  ]) {
    const u = await register(email);
    await sql.query('INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)', [u.id, await roleId('guest')]);
    const t = await token(email);
    expectStatus(await call('GET', '/roles', undefined, auth(t)), 200, 'before');
    await sql.query(change, [email]);
    let status = 200;
    for (let i = 0; i < 40 && status === 200; i++) {
      status = (await call('GET', '/roles', undefined, auth(t))).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(status, 401, `${change}: the token stops working`);
  }
});

test('refresh tokens rotate; reuse closes the whole sign-in; logout ends it', async () => {
  const first = expectStatus(await login('member@example.com'), 200, 'login').body;
  const second = expectStatus(await call('POST', '/auth/refresh', { refreshToken: first.refreshToken }), 200, 'refresh').body;
  assert.notEqual(second.refreshToken, first.refreshToken);
  expectStatus(await call('GET', '/auth/me', undefined, auth(second.accessToken)), 200, 'new access token works');
  expectStatus(await call('GET', '/auth/me', undefined, auth(first.accessToken)), 200, 'the access token of the rotated pair still works');
  const bystander = expectStatus(await login('member@example.com'), 200, 'another sign-in').body;
  expectError(await call('POST', '/auth/refresh', { refreshToken: first.refreshToken }), 401, 'reusing a rotated token');
  expectError(await call('POST', '/auth/refresh', { refreshToken: second.refreshToken }), 401, 'the family is revoked after reuse');
  // A replayed refresh token may be a thief's: the sign-in's access tokens end with it.
  expectError(await call('GET', '/auth/me', undefined, auth(second.accessToken)), 401, 'the access token of a replayed sign-in');
  expectError(await call('GET', '/users', undefined, auth(first.accessToken)), 401, 'an older access token of it, on a resource');
  expectStatus(await call('GET', '/auth/me', undefined, auth(bystander.accessToken)), 200, 'another sign-in of the same user goes on');
  const other = expectStatus(await login('member@example.com'), 200, 'login again').body;
  expectStatus(await call('GET', '/auth/me', undefined, auth(other.accessToken)), 200, 'signed in');
  expectStatus(await call('POST', '/auth/logout', { refreshToken: other.refreshToken }), 204, 'logout');
  expectError(await call('POST', '/auth/refresh', { refreshToken: other.refreshToken }), 401, 'refresh after logout');
  expectError(await call('GET', '/auth/me', undefined, auth(other.accessToken)), 401, 'the access token after logout');
  expectStatus(await call('GET', '/auth/me', undefined, auth(bystander.accessToken)), 200, 'the other sign-in still goes on');
  expectError(await call('POST', '/auth/refresh', { refreshToken: 'x'.repeat(43) }), 401, 'unknown refresh token');
  const stored = (await sql.query('SELECT token_hash FROM nestgen.refresh_tokens LIMIT 1')).rows[0].token_hash;
  assert.match(stored, /^[0-9a-f]{64}$/, 'refresh tokens are stored hashed');
});

function sign(header, payload, secret = SECRET, alg = 'sha256') {
  const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const data = `${b(header)}.${b(payload)}`;
  return `${data}.${createHmac(alg, secret).update(data).digest('base64url')}`;
}

test('tampered, expired, wrong-algorithm and unsigned tokens are rejected', async () => {
  const good = await token('admin@example.com');
  const [h, p, s] = good.split('.');
  const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  assert.equal(B64URL.indexOf(s.at(-1)) % 4, 0, 'a canonical signature');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  const now = Math.floor(Date.now() / 1000);
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: users.root.id })).toString('base64url')}.${s}`;
  const cases = {
    'tampered payload': forged,
    'bad signature': `${h}.${p}.${s.slice(0, -2)}${s.endsWith('xx') ? 'yy' : 'xx'}`,
    // The same signature bytes written another way: the last of a 32-byte signature's 43
    // base64url characters carries 2 bits a decoder ignores (0 when canonical).
    'non-canonical signature': `${h}.${p}.${s.slice(0, -1)}${B64URL[B64URL.indexOf(s.at(-1)) + 1]}`,
    expired: sign({ alg: 'HS256', typ: 'JWT' }, { ...claims, iat: now - 7200, exp: now - 3600 }),
    'no expiry': sign({ alg: 'HS256', typ: 'JWT' }, Object.fromEntries(Object.entries(claims).filter(([k]) => k !== 'exp'))),
    'alg none': `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`,
    'HS512 instead of HS256': sign({ alg: 'HS512', typ: 'JWT' }, claims, SECRET, 'sha512'),
    'RS256 header': sign({ alg: 'RS256', typ: 'JWT' }, claims),
    'wrong secret': sign({ alg: 'HS256', typ: 'JWT' }, claims, 'another secret that is long enough!!'),
    'wrong issuer': sign({ alg: 'HS256', typ: 'JWT' }, { ...claims, iss: 'someone-else' }),
    garbage: 'not.a.token',
  };
  expectStatus(await call('GET', '/auth/me', undefined, auth(good)), 200, 'the real token works');
  // The scheme's case does not matter (RFC 9110 11.1); other schemes and no token are 401.
  for (const header of [`bearer ${good}`, `BEARER  ${good} `]) {
    expectStatus(await call('GET', '/auth/me', undefined, { headers: { authorization: header } }), 200, header.slice(0, 8));
  }
  for (const header of ['Bearer', 'Bearer ', `Basic ${good}`, `Bearer ${good} extra`, `Bearer${good}`]) {
    expectError(await call('GET', '/auth/me', undefined, { headers: { authorization: header } }), 401, header.slice(0, 14));
  }
  for (const [what, t] of Object.entries(cases)) {
    expectError(await call('GET', '/auth/me', undefined, auth(t)), 401, what);
    expectError(await call('GET', '/users', undefined, auth(t)), 401, `${what} on a resource`);
  }
  // A verified token is remembered (jwt.ts), never past its expiry: one that expires in two
  // seconds works until then, and not after, though the app has seen it.
  const soon = Math.floor(Date.now() / 1000) + 2;
  const brief = sign({ alg: 'HS256', typ: 'JWT', kid: JSON.parse(Buffer.from(h, 'base64url').toString()).kid }, { ...claims, exp: soon });
  expectStatus(await call('GET', '/auth/me', undefined, auth(brief)), 200, 'a token about to expire works');
  expectStatus(await call('GET', '/auth/me', undefined, auth(brief)), 200, 'and works again');
  await new Promise((r) => setTimeout(r, soon * 1000 - Date.now() + 50));
  expectError(await call('GET', '/auth/me', undefined, auth(brief)), 401, 'a remembered token once expired');
  expectError(await call('GET', '/users', undefined, auth(brief)), 401, 'a remembered token once expired, on a resource');
});

/** The current 30 s step is not about to end (a code stays valid while it travels). */
async function settle() {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < 3000) await new Promise((r) => setTimeout(r, left + 100));
}

function totp(secret, offset = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + offset));
  const h = createHmac('sha1', key).update(msg).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}

test('second factor: enable, verify, required at sign-in, disable', async () => {
  const email = 'tfa@example.com';
  await register(email);
  const t = await token(email);
  const setup = expectStatus(await call('POST', '/auth/2fa/enable', undefined, auth(t)), 200, 'enable').body;
  assert.match(setup.otpauthUrl, /^otpauth:\/\/totp\//);
  expectError(
    await call('POST', '/auth/2fa/verify', { code: '000000' === totp(setup.secret) ? '111111' : '000000' }, auth(t)),
    401,
    'wrong code',
  );
  await settle();
  expectStatus(await call('POST', '/auth/2fa/verify', { code: totp(setup.secret, -1) }, auth(t)), 204, 'verify');
  // A stolen access token cannot swap the working second factor for its own.
  expectError(await call('POST', '/auth/2fa/enable', undefined, auth(t)), 409, 'enable while on');
  const need = expectError(await login(email), 401, 'code required');
  assert.equal(need.body.details.twoFactorRequired, true);
  expectError(await login(email, PASSWORD, totp(setup.secret, 5)), 401, 'stale code');
  expectError(await login(email, PASSWORD, totp(setup.secret, -1)), 401, 'the code already used to verify');
  expectStatus(await login(email, PASSWORD, totp(setup.secret)), 200, 'password and code');
  expectError(await login(email, PASSWORD, totp(setup.secret)), 401, 'the same code twice');
  expectStatus(await call('POST', '/auth/2fa/disable', { code: totp(setup.secret, 1) }, auth(t)), 204, 'disable');
  expectStatus(await login(email), 200, 'password alone again');
});

test('no password, hash, secret or token hash in any response; OpenAPI shows security', async () => {
  const doc = (await call('GET', '/docs-json')).body;
  assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
  assert.equal(doc.paths['/users'].get['x-required-permission'], 'users:read');
  assert.equal(doc.paths['/roles/{id}'].delete['x-required-permission'], 'roles:delete');
  assert.ok(doc.paths['/users'].get.security.some((s) => 'bearer' in s));
  assert.ok(doc.paths['/users'].get.responses['403'] && doc.paths['/users'].get.responses['401']);
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    const props = Object.keys(schema.properties ?? {});
    // Request bodies that carry a password (write-only) are the exception.
    if (!/^(Auth)?(Register|Login|ResetPassword|ChangePassword)Dto$/.test(name)) {
      assert.ok(
        !props.includes('passwordHash') && !props.includes('twoFactorSecret') && !props.includes('password'),
        `${name} exposes a secret`,
      );
    }
  }
  const hashes = (await sql.query('SELECT password_hash FROM users LIMIT 3')).rows.map((r) => r.password_hash);
  for (const body of seenBodies.filter((b) => !b.startsWith('{"openapi"'))) {
    for (const s of [PASSWORD, ...hashes, '"passwordHash"', '"twoFactorSecret"', 'token_hash', '$argon2id$']) {
      assert.ok(!body.includes(s), `a response contains ${s.slice(0, 20)}: ${body.slice(0, 200)}`);
    }
  }
});

test('lock details: concurrent failures all count, the lock lasts AUTH_LOCK_MINUTES, failures while locked do not extend it, a wrong code counts', async () => {
  const email = 'details@example.com';
  await register(email);
  const lockAfter = Number(process.env.AUTH_ACCOUNT_LOCK_AFTER);
  // Failures at once, each from its own address (so no address is slowed): every one counts.
  const tries = await Promise.all(
    Array.from({ length: lockAfter - 1 }, (_, i) =>
      call('POST', '/auth/login', { email, password: 'wrong' }, { headers: { 'x-forwarded-for': `10.9.0.${i + 1}` } }),
    ),
  );
  assert.ok(
    tries.every((r) => r.status === 401),
    tries.map((r) => r.status).join(','),
  );
  let row = (await sql.query('SELECT failed_login_attempts, locked_until FROM users WHERE email = $1', [email])).rows[0];
  assert.equal(row.failed_login_attempts, lockAfter - 1, 'concurrent failures are counted exactly');
  assert.equal(row.locked_until, null);
  expectError(
    await call('POST', '/auth/login', { email, password: 'wrong' }, { headers: { 'x-forwarded-for': '10.9.1.1' } }),
    401,
    'the failure that locks',
  );
  row = (await sql.query('SELECT locked_until, extract(epoch FROM locked_until - now()) AS left FROM users WHERE email = $1', [email]))
    .rows[0];
  const minutes = Number(process.env.AUTH_LOCK_MINUTES);
  assert.ok(row.left > minutes * 60 - 30 && row.left <= minutes * 60, `locked for ${row.left} s, not ${minutes} min`);
  // Failures while locked neither extend the lock nor reveal it (401 like any wrong password).
  expectError(
    await call('POST', '/auth/login', { email, password: 'wrong' }, { headers: { 'x-forwarded-for': '10.9.1.2' } }),
    401,
    'wrong while locked',
  );
  const after = (await sql.query('SELECT locked_until FROM users WHERE email = $1', [email])).rows[0].locked_until;
  assert.equal(after.getTime(), row.locked_until.getTime(), 'the lock is not extended');
  expectError(
    await call('POST', '/auth/login', { email, password: PASSWORD }, { headers: { 'x-forwarded-for': '10.9.1.3' } }),
    423,
    'locked',
  );
  // A wrong one-time code at sign-in counts like a wrong password.
  const tfa = 'tfa-count@example.com';
  await register(tfa);
  const t = await token(tfa);
  const setup = expectStatus(await call('POST', '/auth/2fa/enable', undefined, auth(t)), 200, 'enable').body;
  await settle();
  expectStatus(await call('POST', '/auth/2fa/verify', { code: totp(setup.secret) }, auth(t)), 204, 'verify');
  expectError(
    await call(
      'POST',
      '/auth/login',
      { email: tfa, password: PASSWORD, totp: totp(setup.secret, 7) },
      { headers: { 'x-forwarded-for': '10.9.2.1' } },
    ),
    401,
    'wrong code',
  );
  assert.equal((await sql.query('SELECT failed_login_attempts FROM users WHERE email = $1', [tfa])).rows[0].failed_login_attempts, 1);
});

test('refresh details: two refreshes with one token at once give one new pair, and the family closes; an expired token is refused', async () => {
  const first = expectStatus(await login('member@example.com'), 200, 'login').body;
  const both = await Promise.all([0, 1].map(() => call('POST', '/auth/refresh', { refreshToken: first.refreshToken })));
  const ok = both.filter((r) => r.status === 200);
  assert.equal(ok.length, 1, `exactly one refresh wins: ${both.map((r) => r.status).join(',')}`);
  expectError(
    both.find((r) => r.status !== 200),
    401,
    'the other is a reuse',
  );
  expectError(
    await call('POST', '/auth/refresh', { refreshToken: ok[0].body.refreshToken }),
    401,
    "the winner's token is closed with its family",
  );
  const second = expectStatus(await login('member@example.com'), 200, 'login').body;
  await sql.query(
    "UPDATE nestgen.refresh_tokens SET expires_at = now() - interval '1 second' WHERE revoked_at IS NULL AND created_at > now() - interval '1 minute'",
  );
  const expired = expectError(await call('POST', '/auth/refresh', { refreshToken: second.refreshToken }), 401, 'expired');
  assert.match(expired.body.message, /expired/);
});
