// The file store under tenancy, run by crates/cli/tests/e2e.rs::files_under_tenancy_*: files
// belong to an organization (set by the server) and an owner; versions and share links are seen
// with their file — in the app and, checked here as the app's own database role, by row-level
// security; a share link made inside an organization opens without one; FILES_TENANT_QUOTA_BYTES
// counts every file of an organization, whoever owns it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { BASE, call, db, expectError, expectStatus } from './lib.mjs';

const PASSWORD = 'tenancy password 123';
let sql;
const org = {};
const user = {};
const tok = {};

const as = (who, o) => ({ headers: { authorization: `Bearer ${tok[who]}`, 'x-organization-id': org[o] } });

async function upload(who, o, name, bytes, path = '/files/upload') {
  const boundary = `----nestgen${randomBytes(8).toString('hex')}`;
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const r = await fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { ...as(who, o).headers, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined, text };
}

before(async () => {
  sql = await db();
  for (const o of ['A', 'B']) {
    org[o] = (
      await sql.query('INSERT INTO organizations (name, slug) VALUES ($1, $2) RETURNING id', [`Files ${o}`, `files-${o.toLowerCase()}`])
    ).rows[0].id;
  }
  // alice: A; bob: B; carol: A and B.
  for (const [who, orgs] of [
    ['alice', ['A']],
    ['bob', ['B']],
    ['carol', ['A', 'B']],
  ]) {
    const email = `${who}@files-tenancy.io`;
    user[who] = expectStatus(
      await call('POST', '/auth/register', { email, password: PASSWORD, name: who }),
      201,
      `register ${who}`,
    ).body.data;
    await sql.query("INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE slug = 'user'", [user[who].id]);
    for (const o of orgs) {
      const m = (
        await sql.query('INSERT INTO organization_users (organization_id, email, name, role) VALUES ($1, $2, $3, $4) RETURNING id', [
          org[o],
          email,
          who,
          'member',
        ])
      ).rows[0].id;
      await sql.query('INSERT INTO nestgen.member_links (member_id, user_id) VALUES ($1, $2)', [m, user[who].id]);
    }
    tok[who] = expectStatus(await call('POST', '/auth/login', { email, password: PASSWORD }), 200, `login ${who}`).body.accessToken;
  }
});

after(async () => {
  await sql?.end();
});

test('files, versions and share links stay inside their organization and with their owner', async () => {
  const f = expectStatus(await upload('alice', 'A', 'plan.txt', Buffer.from('alice in A')), 201, 'alice uploads in A').body.data;
  const row = (await sql.query('SELECT organization_id, owner_id FROM files WHERE id = $1', [f.id])).rows[0];
  assert.deepEqual([row.organization_id, row.owner_id], [org.A, user.alice.id], 'organization and owner set by the server');
  expectStatus(await upload('alice', 'A', 'plan.txt', Buffer.from('alice in A, v2'), `/files/${f.id}/content`), 200, 'a second version');
  const share = expectStatus(await call('POST', `/files/${f.id}/shares`, {}, as('alice', 'A')), 201, 'alice shares').body.data;

  // Another organization: nothing of it, by any route.
  expectError(await call('GET', `/files/${f.id}`, undefined, as('bob', 'B')), 404, 'bob: the file');
  expectError(await call('GET', `/files/${f.id}/content`, undefined, as('bob', 'B')), 404, 'bob: the bytes');
  expectError(await call('GET', `/files/${f.id}/versions`, undefined, as('bob', 'B')), 404, 'bob: the versions');
  expectError(await call('POST', `/files/${f.id}/shares`, {}, as('bob', 'B')), 404, 'bob: a share');
  for (const path of ['/file-versions?limit=100', '/file-shares?limit=100']) {
    const r = expectStatus(await call('GET', path, undefined, as('bob', 'B')), 200, `bob: ${path}`).body.data;
    assert.ok(!r.some((x) => x.fileId === f.id), `${path}: none of alice's`);
  }
  expectError(await call('GET', `/file-shares/${share.id}`, undefined, as('bob', 'B')), 404, 'bob: alice’s share');
  expectError(await call('DELETE', `/file-shares/${share.id}`, undefined, as('bob', 'B')), 404, 'bob: revoke alice’s share');
  // bob names organization A: not his.
  expectError(await call('GET', '/files', undefined, as('bob', 'A')), 403, 'bob in A');

  // The same organization, another owner: carol sees none of alice's files, versions or links.
  expectError(await call('GET', `/files/${f.id}`, undefined, as('carol', 'A')), 404, 'carol: alice’s file');
  for (const path of ['/file-versions?limit=100', '/file-shares?limit=100']) {
    const r = expectStatus(await call('GET', path, undefined, as('carol', 'A')), 200, `carol: ${path}`).body.data;
    assert.ok(!r.some((x) => x.fileId === f.id), `${path}: none of alice's`);
  }
  // alice sees hers.
  const versions = expectStatus(await call('GET', '/file-versions?limit=100', undefined, as('alice', 'A')), 200, 'alice’s versions').body
    .data;
  assert.equal(versions.filter((v) => v.fileId === f.id).length, 1);
  const shares = expectStatus(await call('GET', '/file-shares?limit=100', undefined, as('alice', 'A')), 200, 'alice’s shares').body.data;
  assert.deepEqual(
    shares.map((s) => s.id),
    [share.id],
  );

  // carol's file in B is hers in B only.
  const g = expectStatus(await upload('carol', 'B', 'b.txt', Buffer.from('carol in B')), 201, 'carol uploads in B').body.data;
  assert.equal((await sql.query('SELECT organization_id FROM files WHERE id = $1', [g.id])).rows[0].organization_id, org.B);
  expectError(await call('GET', `/files/${g.id}`, undefined, as('carol', 'A')), 404, 'carol’s B file from A');
  expectStatus(await call('GET', `/files/${g.id}`, undefined, as('carol', 'B')), 200, 'carol’s B file from B');

  // The share link opens without an account or organization: it reads the file as alice could in A.
  const opened = await fetch(`${BASE}${share.path}/content`);
  assert.equal(opened.status, 200);
  assert.equal(Buffer.from(await opened.arrayBuffer()).toString(), 'alice in A, v2');
});

test('row-level security alone keeps versions and share links with their file (the app’s own role)', async () => {
  const app = new pg.Client({ connectionString: process.env.APP_DATABASE_URL });
  await app.connect();
  try {
    const seen = async (who, o) => {
      await app.query('BEGIN');
      try {
        await app.query("SELECT set_config('nestgen.user_id', $1, true), set_config('app.current_organization_id', $2, true)", [
          user[who].id,
          org[o],
        ]);
        const count = async (t) => (await app.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n;
        return { versions: await count('file_versions'), shares: await count('file_shares') };
      } finally {
        await app.query('ROLLBACK');
      }
    };
    const alice = await seen('alice', 'A');
    assert.ok(alice.versions >= 1 && alice.shares >= 1, JSON.stringify(alice));
    assert.deepEqual(await seen('bob', 'B'), { versions: 0, shares: 0 });
    assert.deepEqual(await seen('carol', 'A'), { versions: 0, shares: 0 });
    assert.deepEqual(await seen('alice', 'B'), { versions: 0, shares: 0 }, 'alice’s own rows, named in the wrong organization');
    // Nor can the role write a share or a version onto a file it cannot see.
    const file = (await sql.query('SELECT id FROM files WHERE owner_id = $1 LIMIT 1', [user.alice.id])).rows[0].id;
    await app.query('BEGIN');
    try {
      await app.query("SELECT set_config('nestgen.user_id', $1, true), set_config('app.current_organization_id', $2, true)", [
        user.bob.id,
        org.B,
      ]);
      await assert.rejects(
        app.query("INSERT INTO file_shares (file_id, share_token, shared_by) VALUES ($1, 'x', $2)", [file, user.bob.id]),
        /row-level security/,
      );
    } finally {
      await app.query('ROLLBACK');
    }
  } finally {
    await app.end();
  }
});

test('a quota per organization counts every member’s files (FILES_TENANT_QUOTA_BYTES=1000)', async () => {
  const used = Number(
    (
      await sql.query(
        'SELECT coalesce(sum(f.size_bytes), 0) + coalesce((SELECT sum(v.size_bytes) FROM file_versions v JOIN files f2 ON f2.id = v.file_id WHERE f2.organization_id = $1), 0) AS n FROM files f WHERE f.organization_id = $1',
        [org.A],
      )
    ).rows[0].n,
  );
  const room = 1000 - used;
  assert.ok(room > 200, `room left in A: ${room}`);
  expectStatus(await upload('alice', 'A', 'fill.bin', randomBytes(room - 100)), 201, 'alice fills A to 100 bytes short');
  const before = Number((await sql.query('SELECT count(*)::int AS n FROM files')).rows[0].n);
  const over = await upload('carol', 'A', 'over.bin', randomBytes(200));
  assert.equal(over.status, 413, over.text);
  assert.match(over.body.message, /FILES_TENANT_QUOTA_BYTES/);
  assert.equal(Number((await sql.query('SELECT count(*)::int AS n FROM files')).rows[0].n), before, 'nothing stored');
  expectStatus(await upload('carol', 'B', 'fits.bin', randomBytes(200)), 201, 'carol in B: another organization’s quota');
  expectStatus(await upload('carol', 'A', 'small.bin', randomBytes(50)), 201, 'what fits still fits');
});

test('FILES_TYPE_MISMATCH=refuse: a ZIP named .png is refused (415) and nothing is stored', async () => {
  const before = Number((await sql.query('SELECT count(*)::int AS n FROM files')).rows[0].n);
  const ledger = Number((await sql.query('SELECT count(*)::int AS n FROM nestgen.file_objects')).rows[0].n);
  const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), randomBytes(20)]);
  const r = await upload('bob', 'B', 'photo.png', zip);
  assert.equal(r.status, 415, r.text);
  assert.match(r.body.message, /application\/zip, not image\/png/);
  assert.equal(Number((await sql.query('SELECT count(*)::int AS n FROM files')).rows[0].n), before);
  assert.equal(
    Number((await sql.query('SELECT count(*)::int AS n FROM nestgen.file_objects')).rows[0].n),
    ledger,
    'its bytes removed at once',
  );
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(20)]);
  expectStatus(await upload('bob', 'B', 'real.png', png), 201, 'a real PNG');
});

test('a share link dies with its maker’s access: out of the organization, or the account closed', async () => {
  // carol's link to her file in B works until she leaves B.
  const g = expectStatus(await upload('carol', 'B', 'leaving.txt', Buffer.from('carol leaves')), 201, 'carol in B').body.data;
  const link = expectStatus(await call('POST', `/files/${g.id}/shares`, {}, as('carol', 'B')), 201, 'carol shares').body.data;
  const open = async () => (await fetch(`${BASE}${link.path}/content`)).status;
  assert.equal(await open(), 200);
  await sql.query(
    'DELETE FROM nestgen.member_links WHERE user_id = $1 AND member_id IN (SELECT id FROM organization_users WHERE organization_id = $2)',
    [user.carol.id, org.B],
  );
  assert.equal(await open(), 404, 'carol is no longer a member of B');
  // erin's link works until her account is closed.
  const email = 'erin@files-tenancy.io';
  user.erin = expectStatus(
    await call('POST', '/auth/register', { email, password: PASSWORD, name: 'erin' }),
    201,
    'register erin',
  ).body.data;
  await sql.query("INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE slug = 'user'", [user.erin.id]);
  const m = (
    await sql.query('INSERT INTO organization_users (organization_id, email, name, role) VALUES ($1, $2, $3, $4) RETURNING id', [
      org.A,
      email,
      'erin',
      'member',
    ])
  ).rows[0].id;
  await sql.query('INSERT INTO nestgen.member_links (member_id, user_id) VALUES ($1, $2)', [m, user.erin.id]);
  tok.erin = expectStatus(await call('POST', '/auth/login', { email, password: PASSWORD }), 200, 'login erin').body.accessToken;
  const e = expectStatus(await upload('erin', 'A', 'erin.txt', Buffer.from('erin')), 201, 'erin uploads').body.data;
  const elink = expectStatus(await call('POST', `/files/${e.id}/shares`, {}, as('erin', 'A')), 201, 'erin shares').body.data;
  assert.equal((await fetch(`${BASE}${elink.path}`)).status, 200);
  await sql.query('UPDATE users SET deleted_at = now() WHERE id = $1', [user.erin.id]);
  assert.equal((await fetch(`${BASE}${elink.path}`)).status, 404, 'erin’s account is closed');
});
