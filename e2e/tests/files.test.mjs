// File storage over HTTP (seed scenario 6, first part), run by crates/cli/tests/e2e.rs::files_*:
// streaming uploads to local disk (a 200 MB one with the app's heap capped at 128 MB, its peak
// RSS measured), SHA-256 and size recorded by the server, media types from the bytes, names
// neutralised, size limit, aborted uploads, the EICAR test file, range downloads with ETag, and
// another user's files out of reach.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BASE, call, db, eventually, expectError, expectStatus } from './lib.mjs';

const APP_PID = process.env.APP_PID;
const STORE = process.env.FILES_DIR;
const MAX = Number(process.env.FILES_MAX_BYTES);
const QUOTA = Number(process.env.FILES_QUOTA_BYTES);
const BIG = Number(process.env.FILES_BIG_BYTES ?? 200 * 1024 * 1024);
const PASSWORD = 'files password 123';
let sql;
const tok = {};
const user = {};

const vm = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${APP_PID}/status`, 'utf8'))[1]) * 1024;

const BUCKET = process.env.FILES_S3_BUCKET;
let s3;
async function s3Objects() {
  const { S3Client, ListObjectsV2Command, GetObjectTaggingCommand } = await import('@aws-sdk/client-s3');
  s3 ??= new S3Client({ region: 'us-east-1', endpoint: process.env.FILES_S3_ENDPOINT, forcePathStyle: true });
  const out = [];
  let token;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }));
    for (const o of r.Contents ?? []) {
      // The sweep may remove an object between the listing and this question.
      const tagging = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: o.Key })).catch((e) => {
        if (e.name === 'NoSuchKey') return undefined;
        throw e;
      });
      if (tagging) out.push({ key: o.Key, pending: (tagging.TagSet ?? []).some((t) => t.Key === 'nestgen-pending') });
    }
    token = r.NextContinuationToken;
  } while (token);
  return out;
}

/** Every object in the store (not counting interrupted uploads), on local disk or S3. */
async function stored() {
  if (BUCKET) return (await s3Objects()).filter((o) => !o.pending).map((o) => o.key);
  if (!existsSync(STORE)) return [];
  return readdirSync(STORE)
    .filter((d) => d !== '.incoming')
    .flatMap((d) => readdirSync(join(STORE, d)));
}
async function incoming() {
  if (BUCKET) return (await s3Objects()).filter((o) => o.pending).map((o) => o.key);
  return existsSync(join(STORE, '.incoming')) ? readdirSync(join(STORE, '.incoming')) : [];
}
/** An object put straight into the store, as a crash would leave one. */
async function putObject(key, bytes) {
  if (BUCKET) {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await s3Objects();
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bytes }));
    return;
  }
  mkdirSync(join(STORE, key.slice(0, 2)), { recursive: true });
  writeFileSync(join(STORE, key.slice(0, 2), key), bytes);
}
const rows = async () => Number((await sql.query('SELECT count(*)::int AS n FROM files')).rows[0].n);

/** A multipart body: fields, then the file part, as chunks (a generator for big ones). */
function multipart(name, parts, { fields = {}, type = 'application/octet-stream', field = 'file' } = {}) {
  const boundary = `----nestgen${randomBytes(8).toString('hex')}`;
  const head = Object.entries(fields)
    .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
    .join('');
  const fileHead = `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  return {
    type: `multipart/form-data; boundary=${boundary}`,
    *chunks() {
      yield Buffer.from(head + fileHead, 'utf8');
      yield* parts();
      yield Buffer.from(tail);
    },
  };
}

async function upload(t, name, bytes, opts = {}) {
  const m = multipart(
    name,
    function* () {
      yield bytes;
    },
    opts,
  );
  const body = Buffer.concat([...m.chunks()]);
  const r = await fetch(`${BASE}/files/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t}`, 'content-type': m.type },
    body,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined, text };
}

async function download(t, id, headers = {}) {
  const r = await fetch(`${BASE}/files/${id}/content`, { headers: { authorization: `Bearer ${t}`, ...headers } });
  return { status: r.status, headers: r.headers, bytes: Buffer.from(await r.arrayBuffer()) };
}

before(async () => {
  sql = await db();
  const role = (await sql.query("SELECT id FROM roles WHERE slug = 'user'")).rows[0].id;
  for (const who of ['a', 'b']) {
    const email = `${who}@files.io`;
    user[who] = expectStatus(
      await call('POST', '/auth/register', { email, password: PASSWORD, name: who }),
      201,
      `register ${who}`,
    ).body.data;
    await sql.query('INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)', [user[who].id, role]);
    tok[who] = expectStatus(await call('POST', '/auth/login', { email, password: PASSWORD }), 200, `login ${who}`).body.accessToken;
  }
});

after(async () => {
  await sql?.end();
});

test('a 200 MB upload streams to disk: checksum and size right, the heap never holds it', async () => {
  const chunk = randomBytes(1024 * 1024);
  const hash = createHash('sha256');
  const n = Math.ceil(BIG / chunk.length);
  const m = multipart('big.bin', function* () {
    for (let i = 0; i < n; i++) {
      const c = Buffer.from(chunk);
      c.writeUInt32BE(i, 0);
      hash.update(c);
      yield c;
    }
  });
  const rss = vm('VmRSS');
  const started = performance.now();
  const status = await new Promise((resolve, reject) => {
    const u = new URL(`${BASE}/files/upload`);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: { authorization: `Bearer ${tok.a}`, 'content-type': m.type },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ code: res.statusCode, text }));
      },
    );
    req.on('error', reject);
    const it = m.chunks();
    const pump = () => {
      for (;;) {
        const next = it.next();
        if (next.done) return req.end();
        if (!req.write(next.value)) return req.once('drain', pump);
      }
    };
    pump();
  });
  const seconds = (performance.now() - started) / 1000;
  assert.equal(status.code, 201, status.text);
  const row = JSON.parse(status.text).data;
  const peak = vm('VmHWM');
  console.log(
    `# upload: ${(n * chunk.length) / 1e6} MB in ${seconds.toFixed(1)} s; app RSS ${(rss / 1e6).toFixed(0)} MB before, peak ${(peak / 1e6).toFixed(0)} MB`,
  );
  assert.equal(row.checksum, hash.digest('hex'));
  assert.equal(row.sizeBytes, String(n * chunk.length));
  assert.equal(row.mimeType, 'application/octet-stream');
  assert.equal(row.originalName, 'big.bin');
  assert.equal(row.ownerId, user.a.id, 'the owner is the uploader');
  for (const hidden of ['storagePath', 'storageProvider', 'storageBucket', 'filename'])
    assert.ok(!(hidden in row), `${hidden} is not returned`);
  assert.ok(peak - rss < 100e6, `peak RSS grew by ${((peak - rss) / 1e6).toFixed(0)} MB`);

  // A range of the big file: exact bytes.
  const r = await download(tok.a, row.id, { range: 'bytes=1048570-1048585' });
  assert.equal(r.status, 206);
  assert.equal(r.headers.get('content-range'), `bytes 1048570-1048585/${n * chunk.length}`);
  const expected = Buffer.concat([
    chunk.subarray(1048570, 1048576),
    (() => {
      const c = Buffer.from(chunk);
      c.writeUInt32BE(1, 0);
      return c.subarray(0, 10);
    })(),
  ]);
  assert.deepEqual(r.bytes, expected);
});

test('downloads: whole, ranges, suffix ranges, 416, ETag and 304, safe disposition, counted', async () => {
  const bytes = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
  const up = expectStatus(await upload(tok.a, 'notes.txt', bytes, { type: 'text/plain' }), 201, 'upload').body.data;
  assert.equal(up.mimeType, 'text/plain');
  const whole = await download(tok.a, up.id);
  assert.equal(whole.status, 200);
  assert.deepEqual(whole.bytes, bytes);
  assert.equal(whole.headers.get('etag'), `"${createHash('sha256').update(bytes).digest('hex')}"`);
  assert.equal(whole.headers.get('x-content-type-options'), 'nosniff');
  assert.match(whole.headers.get('content-disposition'), /^attachment; filename="notes.txt"/);
  assert.equal((await download(tok.a, up.id, { range: 'bytes=10-15' })).bytes.toString(), 'abcdef');
  assert.equal((await download(tok.a, up.id, { range: 'bytes=-3' })).bytes.toString(), 'xyz');
  assert.equal((await download(tok.a, up.id, { range: 'bytes=30-' })).bytes.toString(), 'uvwxyz');
  const bad = await download(tok.a, up.id, { range: 'bytes=100-200' });
  assert.equal(bad.status, 416);
  assert.equal(bad.headers.get('content-range'), `bytes */${bytes.length}`);
  assert.equal((await download(tok.a, up.id, { 'if-none-match': whole.headers.get('etag') })).status, 304);
  const count = (await sql.query('SELECT downloaded_count FROM files WHERE id = $1', [up.id])).rows[0].downloaded_count;
  assert.equal(count, 1, 'counted once: not the ranges past the first byte, the 416 or the 304');

  // A download URL: straight from the object store on S3 (the same bytes, as an attachment);
  // local disk has none.
  const u = await call('GET', `/files/${up.id}/url`, undefined, { headers: { authorization: `Bearer ${tok.a}` } });
  if (BUCKET) {
    assert.equal(u.status, 200, u.text);
    assert.ok(Date.parse(u.body.expiresAt) > Date.now());
    const direct = await fetch(u.body.url);
    assert.equal(direct.status, 200);
    assert.deepEqual(Buffer.from(await direct.arrayBuffer()), bytes);
    // Signed into the URL: S3 answers with it (moto ignores it, so it is checked in the URL).
    assert.match(u.body.url, /response-content-disposition=attachment%3B%20filename%3D%22notes\.txt%22/);
    assert.match(u.body.url, /X-Amz-Expires=300&/, 'FILES_URL_SECONDS');
  } else {
    assert.equal(u.status, 501, u.text);
  }

  // Another user: no row, no bytes.
  expectError(
    await call('GET', `/files/${up.id}`, undefined, { headers: { authorization: `Bearer ${tok.b}` } }),
    404,
    'another user’s file',
  );
  assert.equal((await download(tok.b, up.id)).status, 404);
  expectError(
    await call('GET', `/files/${up.id}/url`, undefined, { headers: { authorization: `Bearer ${tok.b}` } }),
    404,
    'no URL for another user’s file',
  );
  assert.equal((await download(tok.a, '00000000-0000-0000-0000-000000000000')).status, 404);
});

test('the media type comes from the bytes; names lose paths and control characters; empty files are files', async () => {
  const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), randomBytes(60)]);
  const fake = expectStatus(await upload(tok.a, 'photo.png', zip, { type: 'image/png' }), 201, 'zip named png').body.data;
  assert.equal(fake.mimeType, 'application/zip', 'stored as what it is (FILES_TYPE_MISMATCH=store)');
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(40)]);
  assert.equal(
    expectStatus(await upload(tok.a, 'real.png', png, { type: 'application/octet-stream' }), 201, 'png').body.data.mimeType,
    'image/png',
  );

  for (const [raw, kept] of [
    ['../../etc/passwd', 'passwd'],
    ['..\\..\\x', 'x'],
    ['a\u0000b.txt', 'ab.txt'],
    ['con.txt', '_con.txt'],
    ['...', 'file'],
    [`${'n'.repeat(400)}.pdf`, `${'n'.repeat(251)}.pdf`],
  ]) {
    const f = expectStatus(await upload(tok.a, raw, Buffer.from('hello')), 201, `name ${JSON.stringify(raw)}`).body.data;
    assert.equal(f.originalName, kept, JSON.stringify(raw));
    const d = await download(tok.a, f.id);
    assert.ok(!/[/\\\u0000]/.test(d.headers.get('content-disposition')), d.headers.get('content-disposition'));
  }
  const unicode = expectStatus(await upload(tok.a, 'résumé final.txt', Buffer.from('x')), 201, 'unicode').body.data;
  const cd = (await download(tok.a, unicode.id)).headers.get('content-disposition');
  assert.equal(cd, `attachment; filename="r_sum_ final.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20final.txt`);

  const empty = expectStatus(await upload(tok.a, 'empty.dat', Buffer.alloc(0)), 201, 'zero bytes').body.data;
  assert.equal(empty.sizeBytes, '0');
  assert.equal(empty.checksum, createHash('sha256').digest('hex'));
  const d = await download(tok.a, empty.id);
  assert.equal(d.status, 200);
  assert.equal(d.bytes.length, 0);
});

test('refused uploads store nothing: too large, EICAR, wrong part, not multipart, cut short', async () => {
  const before = { rows: await rows(), objects: (await stored()).length };
  const over = await upload(tok.a, 'over.bin', Buffer.alloc(MAX + 1));
  assert.equal(over.status, 413, over.text);
  const eicar = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');
  const virus = await upload(tok.a, 'eicar.com', Buffer.concat([randomBytes(100), eicar, randomBytes(100)]));
  assert.equal(virus.status, 422, virus.text);
  assert.match(virus.body.message, /EICAR/);
  assert.equal((await upload(tok.a, 'x.txt', Buffer.from('x'), { field: 'attachment' })).status, 400);
  expectError(
    await call('POST', '/files/upload', { storagePath: '/etc/passwd' }, { headers: { authorization: `Bearer ${tok.a}` } }),
    415,
    'JSON instead of a file',
  );
  // Columns the server owns cannot be sent as form fields; unknown ones neither.
  assert.equal((await upload(tok.a, 'x.txt', Buffer.from('x'), { fields: { checksum: 'abc' } })).status, 400);
  assert.equal((await upload(tok.a, 'x.txt', Buffer.from('x'), { fields: { ownerId: user.b.id } })).status, 400);
  expectError(
    await call(
      'POST',
      '/files',
      {
        storageProvider: 'local',
        storagePath: '/etc/passwd',
        originalName: 'x',
        filename: 'x',
        mimeType: 'x',
        sizeBytes: '1',
        checksum: 'x',
      },
      { headers: { authorization: `Bearer ${tok.a}` } },
    ),
    404,
    'no create route but upload',
  );

  // A client that goes away in the middle of the file.
  const m = multipart('cut.bin', function* () {
    yield randomBytes(256 * 1024);
  });
  await new Promise((resolve) => {
    const u = new URL(`${BASE}/files/upload`);
    const req = request({
      host: u.hostname,
      port: u.port,
      path: u.pathname,
      method: 'POST',
      headers: { authorization: `Bearer ${tok.a}`, 'content-type': m.type, 'content-length': String(10 * 1024 * 1024) },
    });
    req.on('error', () => resolve());
    const it = m.chunks();
    req.write(it.next().value);
    req.write(it.next().value, () =>
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 300),
    );
  });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await rows(), before.rows, 'no row');
  assert.equal((await stored()).length, before.objects, 'no object');
  assert.deepEqual(await incoming(), [], 'no leftover bytes');
});

test('a quota per owner: the upload that would pass it is refused whole (413), others go on', async () => {
  const used = Number((await sql.query('SELECT sum(size_bytes)::bigint AS n FROM files WHERE owner_id = $1', [user.a.id])).rows[0].n);
  const over = QUOTA - used + 1;
  assert.ok(over > 0 && over < MAX, `the test's quota leaves room (${used} of ${QUOTA} used)`);
  const before = { rows: await rows(), objects: (await stored()).length };
  const r = await upload(tok.a, 'over-quota.bin', randomBytes(over));
  assert.equal(r.status, 413, r.text);
  assert.match(r.body.message, /quota/);
  assert.equal(await rows(), before.rows);
  assert.equal((await stored()).length, before.objects, 'its bytes are gone too');
  // Exactly up to the quota is fine; another owner has a quota of their own.
  expectStatus(await upload(tok.a, 'fits.bin', randomBytes(over - 1)), 201, 'up to the quota');
  expectStatus(await upload(tok.b, 'b.bin', randomBytes(over)), 201, 'another owner');
});

test('folders: paths kept by the database; move and rename carry the tree; no cycles; deleting a folder deletes what it holds', async () => {
  // User b: a's quota is full after the quota test.
  const a = { headers: { authorization: `Bearer ${tok.b}` } };
  const mk = async (name, parentFolderId) =>
    expectStatus(await call('POST', '/folders', { name, ...(parentFolderId ? { parentFolderId } : {}) }, a), 201, `folder ${name}`).body
      .data;
  const get = async (id) => expectStatus(await call('GET', `/folders/${id}`, undefined, a), 200, 'folder').body.data;
  const docs = await mk('docs');
  const year = await mk('2024', docs.id);
  const q1 = await mk('q1', year.id);
  assert.deepEqual(
    [docs, year, q1].map((f) => [f.path, f.level]),
    [
      ['/docs', 0],
      ['/docs/2024', 1],
      ['/docs/2024/q1', 2],
    ],
  );
  // The path is the server's: a client's is ignored or refused, never stored.
  const forged = await call('POST', '/folders', { name: 'x', path: '/etc' }, a);
  assert.ok(forged.status === 400 || forged.body?.data?.path === '/x', forged.text);

  expectStatus(await call('PATCH', `/folders/${docs.id}`, { name: 'papers' }, a), 200, 'rename');
  assert.equal((await get(q1.id)).path, '/papers/2024/q1', 'a rename reaches the bottom of the tree');
  const archive = await mk('archive');
  expectStatus(await call('PATCH', `/folders/${year.id}`, { parentFolderId: archive.id }, a), 200, 'move');
  assert.deepEqual(
    [(await get(year.id)).path, (await get(q1.id)).path, (await get(q1.id)).level],
    ['/archive/2024', '/archive/2024/q1', 2],
  );
  for (const [id, parent] of [
    [archive.id, q1.id],
    [archive.id, archive.id],
  ]) {
    const r = await call('PATCH', `/folders/${id}`, { parentFolderId: parent }, a);
    assert.ok(r.status === 400 || r.status === 409 || r.status === 422, `a cycle: ${r.status} ${r.text}`);
  }
  assert.equal((await get(archive.id)).path, '/archive');
  const slash = await call('POST', '/folders', { name: 'a/b' }, a);
  assert.ok([400, 409, 422].includes(slash.status), slash.text);

  // Another user's tree with the same paths is another tree: renaming or deleting it touches
  // nothing of b's, and b's folders are no parent for a.
  const other = { headers: { authorization: `Bearer ${tok.a}` } };
  const twin = expectStatus(await call('POST', '/folders', { name: 'archive' }, other), 201, 'a twin root').body.data;
  assert.equal(twin.path, '/archive');
  expectError(
    await call('POST', '/folders', { name: 'intruder', parentFolderId: year.id }, other),
    409,
    'another user’s folder as a parent',
  );
  const intruding = await upload(tok.b, 'intruder.txt', Buffer.from('x'), { fields: { folderId: twin.id } });
  assert.equal(intruding.status, 409, `a file into another user's folder: ${intruding.text}`);
  expectStatus(await call('PATCH', `/folders/${twin.id}`, { name: 'elsewhere' }, other), 200, 'rename the twin');
  expectStatus(await call('DELETE', `/folders/${twin.id}`, undefined, other), 204, 'delete the twin');
  assert.equal((await get(q1.id)).path, '/archive/2024/q1', 'b’s tree untouched');

  // A file in the bottom folder goes with a delete of the top one, and comes back with its restore.
  const f = expectStatus(await upload(tok.b, 'in-q1.txt', Buffer.from('q1'), { fields: { folderId: q1.id } }), 201, 'file in q1').body.data;
  assert.equal(f.folderId, q1.id);
  const gone = expectStatus(await upload(tok.b, 'deleted-before.txt', Buffer.from('x'), { fields: { folderId: q1.id } }), 201, 'file').body
    .data;
  expectStatus(await call('DELETE', `/files/${gone.id}`, undefined, a), 204, 'delete a file first');
  expectStatus(await call('DELETE', `/folders/${archive.id}`, undefined, a), 204, 'delete the top folder');
  expectError(await call('GET', `/folders/${q1.id}`, undefined, a), 404, 'the folder below');
  expectError(await call('GET', `/files/${f.id}`, undefined, a), 404, 'the file below');
  expectStatus(await call('POST', `/folders/${archive.id}/restore`, undefined, a), 200, 'restore');
  assert.equal((await get(q1.id)).path, '/archive/2024/q1');
  expectStatus(await call('GET', `/files/${f.id}`, undefined, a), 200, 'the file is back');
  expectError(await call('GET', `/files/${gone.id}`, undefined, a), 404, 'what was deleted before stays deleted');
});

test('bytes after the closing boundary are not read, and dropping the connection then keeps the file', async () => {
  const m = multipart('kept.txt', function* () {
    yield Buffer.from('kept');
  });
  const [first, ...rest] = [...m.chunks()];
  const res = await new Promise((resolve, reject) => {
    const u = new URL(`${BASE}/files/upload`);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: { authorization: `Bearer ${tok.b}`, 'content-type': m.type },
      },
      (r) => {
        let text = '';
        r.on('data', (d) => (text += d));
        r.on('end', () => {
          req.destroy();
          resolve({ status: r.statusCode, text });
        });
      },
    );
    req.on('error', () => undefined);
    req.write(first);
    for (const c of rest) req.write(c);
    // Filler after the closing boundary, until the answer comes.
    const filler = setInterval(() => req.write(Buffer.alloc(1024, 0x20)), 20);
    req.on('close', () => clearInterval(filler));
    setTimeout(() => reject(new Error('no answer')), 10_000);
  });
  assert.equal(res.status, 201, res.text);
  await new Promise((r) => setTimeout(r, 300));
  const id = JSON.parse(res.text).data.id;
  const d = await download(tok.b, id);
  assert.equal(d.status, 200);
  assert.equal(d.bytes.toString(), 'kept');
});

test('versions: new bytes keep the old as a version; list, download and restore one; refused bytes change nothing', async () => {
  const b = { headers: { authorization: `Bearer ${tok.b}` } };
  const sha = (t) => createHash('sha256').update(t).digest('hex');
  const f = expectStatus(await upload(tok.b, 'v.txt', Buffer.from('one')), 201, 'v1').body.data;
  const replace = async (t, bytes) => {
    const m = multipart('v.txt', function* () {
      yield bytes;
    });
    const r = await fetch(`${BASE}/files/${f.id}/content`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t}`, 'content-type': m.type },
      body: Buffer.concat([...m.chunks()]),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined, text };
  };
  const two = expectStatus(await replace(tok.b, Buffer.from('two!')), 200, 'new bytes').body.data;
  assert.equal(two.checksum, sha('two!'));
  assert.equal(two.sizeBytes, '4');
  assert.equal((await download(tok.b, f.id)).bytes.toString(), 'two!');
  const list = expectStatus(await call('GET', `/files/${f.id}/versions`, undefined, b), 200, 'versions').body.data;
  assert.deepEqual(
    list.map((v) => [v.version, v.sizeBytes, v.checksum]),
    [[1, '3', sha('one')]],
  );
  const v1 = await fetch(`${BASE}/files/${f.id}/versions/1/content`, b);
  assert.equal(v1.status, 200);
  assert.equal(Buffer.from(await v1.arrayBuffer()).toString(), 'one');
  assert.match(v1.headers.get('content-disposition'), /filename="v.txt"/);

  // Refused bytes leave the file and its versions as they were.
  const eicar = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');
  assert.equal((await replace(tok.b, eicar)).status, 422);
  assert.equal((await download(tok.b, f.id)).bytes.toString(), 'two!');
  // Another user: no versions, no new bytes.
  expectError(
    await call('GET', `/files/${f.id}/versions`, undefined, { headers: { authorization: `Bearer ${tok.a}` } }),
    404,
    'another user’s versions',
  );
  assert.equal((await replace(tok.a, Buffer.from('x'))).status, 404);

  const restored = expectStatus(await call('POST', `/files/${f.id}/versions/1/restore`, undefined, b), 200, 'restore v1').body.data;
  assert.equal(restored.checksum, sha('one'));
  assert.equal(restored.mimeType, 'text/plain');
  assert.equal((await download(tok.b, f.id)).bytes.toString(), 'one');
  const after = expectStatus(await call('GET', `/files/${f.id}/versions`, undefined, b), 200, 'versions').body.data;
  assert.deepEqual(
    after.map((v) => [v.version, v.checksum]),
    [
      [2, sha('two!')],
      [1, sha('one')],
    ],
  );
  expectError(await call('POST', `/files/${f.id}/versions/9/restore`, undefined, b), 404, 'no such version');
  const theirs = await call('GET', '/file-versions?limit=100', undefined, { headers: { authorization: `Bearer ${tok.a}` } });
  assert.ok(
    theirs.status === 403 || (theirs.status === 200 && !theirs.body.data.some((v) => v.fileId === f.id)),
    `b's versions are not a's: ${theirs.text}`,
  );
  // Versions are made by the server only: their own route writes nothing, and never shows where bytes are.
  assert.equal(
    (await call('POST', '/file-versions', { fileId: f.id, versionNumber: 9, storagePath: '/etc/passwd', sizeBytes: '1', checksum: 'x' }, b))
      .status,
    404,
  );
  const mine = expectStatus(await call('GET', '/file-versions?limit=100', undefined, b), 200, 'b’s versions').body.data;
  assert.ok(mine.length >= 2 && mine.every((v) => !('storagePath' in v)));
});

test('uploads at once per user are capped (429); other users are not held up', async () => {
  const open = () => {
    const m = multipart('slow.bin', function* () {
      yield Buffer.alloc(1024, 1);
    });
    const [head, body, tail] = [...m.chunks()];
    const u = new URL(`${BASE}/files/upload`);
    let req;
    const done = new Promise((resolve, reject) => {
      req = request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          headers: { authorization: `Bearer ${tok.b}`, 'content-type': m.type },
        },
        (r) => {
          let text = '';
          r.on('data', (d) => (text += d));
          r.on('end', () => resolve({ status: r.statusCode, text }));
        },
      );
      req.on('error', reject);
    });
    req.write(head);
    req.write(body);
    return { done, finish: () => req.end(tail) };
  };
  const slow = [open(), open()];
  await new Promise((r) => setTimeout(r, 500));
  const third = await upload(tok.b, 'third.txt', Buffer.from('3'));
  assert.equal(third.status, 429, third.text);
  const other = await upload(tok.a, 'a.txt', Buffer.from('a'));
  assert.notEqual(other.status, 429, 'another user is not held up');
  for (const s of slow) s.finish();
  for (const s of slow) assert.equal((await s.done).status, 201);
  expectStatus(await upload(tok.b, 'after.txt', Buffer.from('4')), 201, 'room again');
});

test('share links: token shown once and kept hashed; opened without an account; counted, limited, expiring, password, view-only, revocable', async () => {
  const b = { headers: { authorization: `Bearer ${tok.b}` } };
  const sha = (t) => createHash('sha256').update(t).digest('hex');
  const bytes = randomBytes(100_000);
  const f = expectStatus(await upload(tok.b, 'report.bin', bytes), 201, 'the shared file').body.data;
  const share = (body, t = tok.b, id = f.id) => call('POST', `/files/${id}/shares`, body, { headers: { authorization: `Bearer ${t}` } });
  const open = async (path, headers = {}) => {
    const r = await fetch(`${BASE}${path}`, { headers });
    return { status: r.status, headers: r.headers, bytes: Buffer.from(await r.arrayBuffer()) };
  };
  const json = (r) => JSON.parse(r.bytes.toString());
  const count = async (id) => (await sql.query('SELECT download_count FROM file_shares WHERE id = $1', [id])).rows[0].download_count;

  // A link: the token is drawn by the server, shown once, kept as its SHA-256 only.
  const s1 = expectStatus(await share({}), 201, 'share').body.data;
  assert.match(s1.token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(s1.path, `/file-shares/public/${s1.token}`);
  assert.ok(new Date(s1.expiresAt).getTime() > Date.now() + 6 * 86_400_000, 'expires by default (FILES_SHARE_DAYS)');
  const row = (await sql.query('SELECT share_token, shared_by FROM file_shares WHERE id = $1', [s1.id])).rows[0];
  assert.equal(row.share_token, sha(s1.token));
  assert.equal(row.shared_by, user.b.id, 'who shared: the signed-in user');
  const listed = expectStatus(await call('GET', `/file-shares?fileId=eq.${f.id}`, undefined, b), 200, 'b’s shares').body.data;
  assert.equal(listed.length, 1);
  assert.ok(
    !JSON.stringify(listed).includes(s1.token) && !JSON.stringify(listed).includes(row.share_token),
    'the token is never shown again',
  );
  // A client cannot choose a token, nor make a share of its own.
  assert.equal((await call('POST', '/file-shares', { fileId: f.id, shareToken: 'guessable', sharedBy: user.b.id }, b)).status, 404);
  // A link's terms are fixed when it is made: share rows have no update route.
  assert.equal((await call('PATCH', `/file-shares/${s1.id}`, { canDownload: true, maxDownloads: 1000 }, b)).status, 404);

  // Opened without an account: the file's name, size and type, nothing else.
  const d = await open(s1.path);
  assert.equal(d.status, 200, d.bytes.toString());
  assert.equal(d.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(d.headers.get('cache-control'), 'no-store');
  const details = json(d).data;
  assert.deepEqual(Object.keys(details).sort(), ['canDownload', 'downloadsLeft', 'expiresAt', 'name', 'sizeBytes', 'type']);
  assert.deepEqual([details.name, details.sizeBytes, details.canDownload, details.downloadsLeft], ['report.bin', '100000', true, null]);
  const whole = await open(`${s1.path}/content`);
  assert.equal(whole.status, 200);
  assert.ok(whole.bytes.equals(bytes), 'the exact bytes');
  assert.match(whole.headers.get('content-disposition'), /^attachment/);
  const part = await open(`${s1.path}/content`, { range: 'bytes=10-19' });
  assert.equal(part.status, 206);
  assert.ok(part.bytes.equals(bytes.subarray(10, 20)));
  assert.equal(await count(s1.id), 1, 'one download (a range past the start is the same download)');
  // Unknown, malformed and altered tokens: 404, the same answer.
  for (const t of ['A'.repeat(43), 'x', `${s1.token.slice(0, -1)}${s1.token.endsWith('A') ? 'B' : 'A'}`, '..%2F..%2Fetc%2Fpasswd']) {
    const r = await open(`/file-shares/public/${t}`);
    assert.equal(r.status, 404, t);
    assert.equal(json(r).message, 'no such link');
  }

  // Another user can neither share b's file, see b's shares, nor revoke them.
  const a = { headers: { authorization: `Bearer ${tok.a}` } };
  expectError(await share({}, tok.a), 404, 'another user’s file');
  const theirs = expectStatus(await call('GET', '/file-shares?limit=100', undefined, a), 200, 'a’s shares').body.data;
  assert.ok(!theirs.some((s) => s.fileId === f.id));
  expectError(await call('DELETE', `/file-shares/${s1.id}`, undefined, a), 404, 'another user’s share');
  // The owner revokes: 404 from then on.
  assert.equal((await call('DELETE', `/file-shares/${s1.id}`, undefined, b)).status, 204);
  assert.equal((await open(s1.path)).status, 404);
  assert.equal((await open(`${s1.path}/content`)).status, 404);

  // At most N downloads, counted in the database: ten at once, exactly three served.
  const s2 = expectStatus(await share({ maxDownloads: 3 }), 201, 'limited').body.data;
  const results = await Promise.all(Array.from({ length: 10 }, () => open(`${s2.path}/content`)));
  const served = results.filter((r) => r.status === 200);
  assert.equal(served.length, 3, results.map((r) => r.status).join(','));
  assert.ok(served.every((r) => r.bytes.equals(bytes)));
  assert.ok(results.every((r) => r.status === 200 || r.status === 410));
  for (const r of results.filter((x) => x.status === 410)) {
    assert.equal(r.headers.get('etag'), null, 'a refused download tells nothing about the bytes');
    assert.equal(r.headers.get('content-disposition'), null);
  }
  assert.equal(await count(s2.id), 3);
  assert.equal((await open(s2.path)).status, 410, 'used up');
  // A limited link serves whole files: a range would be a download nobody counted.
  const s3 = expectStatus(await share({ maxDownloads: 2 }), 201, 'limited').body.data;
  const ranged = await open(`${s3.path}/content`, { range: 'bytes=50000-' });
  assert.equal(ranged.status, 200);
  assert.ok(ranged.bytes.equals(bytes));
  assert.equal(json(await open(s3.path)).data.downloadsLeft, 1);

  // Expiry: 410 once passed; a past or too distant one is refused when the link is made.
  const s4 = expectStatus(await share({ expiresAt: new Date(Date.now() + 3_600_000).toISOString() }), 201, 'expiring').body.data;
  assert.equal((await open(s4.path)).status, 200);
  await sql.query("UPDATE file_shares SET expires_at = now() - interval '1 second' WHERE id = $1", [s4.id]);
  assert.equal((await open(s4.path)).status, 410);
  assert.equal((await open(`${s4.path}/content`)).status, 410);
  expectError(await share({ expiresAt: new Date(Date.now() - 1000).toISOString() }), 400, 'in the past');
  expectError(await share({ expiresAt: new Date(Date.now() + 400 * 86_400_000).toISOString() }), 400, 'beyond FILES_SHARE_MAX_DAYS');
  expectError(await share({ maxDownloads: 0 }), 400, 'at least one download');
  expectError(await share({ token: 'mine' }), 400, 'no client token');

  // A password: asked in a header, kept as an argon2id hash; wrong → 403, many wrong → 429.
  const s5 = expectStatus(await share({ password: 'open sesame 42' }), 201, 'with a password').body.data;
  assert.equal(s5.passwordRequired, true);
  const hashed = (await sql.query('SELECT password_hash FROM nestgen.public_file_shares_links WHERE share_id = $1', [s5.id])).rows[0]
    .password_hash;
  assert.match(hashed, /^\$argon2id\$/);
  assert.equal((await open(s5.path)).status, 403);
  assert.equal((await open(`${s5.path}/content`)).status, 403);
  assert.equal((await open(s5.path, { 'x-share-password': 'open sesame 41' })).status, 403);
  assert.equal((await open(s5.path, { 'x-share-password': 'open sesame 42' })).status, 200);
  const unlocked = await open(`${s5.path}/content`, { 'x-share-password': 'open sesame 42' });
  assert.ok(unlocked.status === 200 && unlocked.bytes.equals(bytes));
  // Tries are counted before each check (the right one started the count over): a burst of
  // thirty guesses at once gets at most ten checked, and then even the right password waits.
  const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => open(s5.path, { 'x-share-password': `guess ${i}` })));
  const statuses = burst.map((r) => r.status);
  assert.ok(statuses.filter((x) => x === 403).length <= 10, statuses.join(','));
  assert.ok(
    statuses.every((x) => x === 403 || x === 429),
    statuses.join(','),
  );
  assert.equal((await open(s5.path, { 'x-share-password': 'open sesame 42' })).status, 429, 'ten tries lock the link for a while');

  // View-only: the details, not the bytes.
  const s6 = expectStatus(await share({ permission: 'view' }), 201, 'view only').body.data;
  assert.equal(json(await open(s6.path)).data.canDownload, false);
  assert.equal((await open(`${s6.path}/content`)).status, 403);

  // Hidden columns are no sort key (a sort or a cursor on them would tell their values).
  expectError(await call('GET', '/files?sort=storagePath', undefined, b), 400, 'sort by the hidden storage key');
  expectError(await call('GET', '/file-versions?sort=storagePath', undefined, b), 400, 'sort versions by the hidden key');
  // A name set later must be clean: no path, markup, control or direction characters.
  for (const bad of ['../../etc/passwd', '<script>alert(1)</script>.html', 'x\r\nSet-Cookie: a=b', '\u202egnp.exe', '.hidden']) {
    expectError(await call('PATCH', `/files/${f.id}`, { originalName: bad }, b), 400, `name ${JSON.stringify(bad)}`);
  }
  assert.equal(
    expectStatus(await call('PATCH', `/files/${f.id}`, { originalName: 'Q3 report (final).bin' }, b), 200, 'a clean name').body.data
      .originalName,
    'Q3 report (final).bin',
  );

  // A deleted file's links open nothing.
  const g = expectStatus(await upload(tok.b, 'gone.txt', Buffer.from('gone')), 201, 'to delete').body.data;
  const s7 = expectStatus(await share({}, tok.b, g.id), 201, 'share').body.data;
  assert.equal((await open(`${s7.path}/content`)).bytes.toString(), 'gone');
  assert.equal((await call('DELETE', `/files/${g.id}`, undefined, b)).status, 204);
  assert.equal((await open(s7.path)).status, 404);
});

test('bytes no row keeps are removed: an upload cut short by a crash, a row deleted for good', async () => {
  // A crash between storing the bytes and committing the row leaves the object in the ledger.
  const lost = randomUUID();
  const young = randomUUID();
  await putObject(lost, Buffer.from('left behind by a crash'));
  await putObject(young, Buffer.from('an upload still running'));
  await sql.query("INSERT INTO nestgen.file_objects (key, created_at) VALUES ($1, now() - interval '2 hours'), ($2, now())", [lost, young]);
  // The sweep removes the bytes, then its ledger entry when its transaction commits.
  await eventually(
    'the crash’s bytes and ledger entry removed',
    async () =>
      !(await stored()).includes(lost) &&
      (await sql.query('SELECT count(*)::int AS n FROM nestgen.file_objects WHERE key = $1', [lost])).rows[0].n === 0,
  );
  assert.ok((await stored()).includes(young), 'younger than FILES_ORPHAN_SECONDS: left alone');
  await sql.query('DELETE FROM nestgen.file_objects WHERE key = $1', [young]);

  // Committed uploads leave nothing in the ledger.
  const f = expectStatus(await upload(tok.b, 'purge.txt', Buffer.from('purge me')), 201, 'upload').body.data;
  const key = (await sql.query('SELECT storage_path FROM files WHERE id = $1', [f.id])).rows[0].storage_path;
  assert.equal((await sql.query('SELECT count(*)::int AS n FROM nestgen.file_objects WHERE key = $1', [key])).rows[0].n, 0);
  // Deleted through the API (soft): the bytes stay, to be restored.
  assert.equal((await call('DELETE', `/files/${f.id}`, undefined, { headers: { authorization: `Bearer ${tok.b}` } })).status, 204);
  assert.ok((await stored()).includes(key));
  // Deleted for good: the bytes go once the row has been gone FILES_ORPHAN_SECONDS.
  await sql.query('DELETE FROM files WHERE id = $1', [f.id]);
  assert.equal((await sql.query('SELECT count(*)::int AS n FROM nestgen.file_objects WHERE key = $1', [key])).rows[0].n, 1);
  assert.ok((await stored()).includes(key), 'not at once');
  await sql.query("UPDATE nestgen.file_objects SET created_at = now() - interval '2 hours' WHERE key = $1", [key]);
  await eventually('the deleted row’s bytes removed', async () => !(await stored()).includes(key));
});

test('uploads straight to the object store: a presigned PUT, then read back and checked like any upload (501 on local disk)', async () => {
  const b = { headers: { authorization: `Bearer ${tok.b}` } };
  const sha = (t) => createHash('sha256').update(t).digest('hex');
  const bytes = randomBytes(300_000);
  const presign = (name, sizeBytes, t = tok.b) =>
    call('POST', '/files/uploads', { name, sizeBytes }, { headers: { authorization: `Bearer ${t}` } });
  if (!BUCKET) {
    expectError(await presign('direct.bin', 10), 501, 'local disk has no upload URLs');
    return;
  }
  const put = (u, body) => fetch(u.url, { method: u.method, headers: u.headers, body });
  const complete = (u, fields = {}, t = tok.b) =>
    call('POST', `/files/uploads/${u.uploadId}/complete`, fields, { headers: { authorization: `Bearer ${t}` } });

  const u = expectStatus(await presign('../direct.bin', bytes.length), 201, 'presign').body;
  assert.equal(u.method, 'PUT');
  assert.equal(u.headers['content-length'], String(bytes.length));
  expectError(await complete(u), 409, 'nothing PUT yet');
  expectError(await complete(u, {}, tok.a), 404, 'another user’s upload');
  assert.equal((await put(u, bytes)).status, 200);
  const f = expectStatus(await complete(u), 201, 'complete').body.data;
  assert.deepEqual([f.originalName, f.sizeBytes, f.checksum], ['direct.bin', String(bytes.length), sha(bytes)]);
  assert.ok(!('storagePath' in f));
  assert.ok((await download(tok.b, f.id)).bytes.equals(bytes), 'the bytes, through the app');
  expectError(await complete(u), 404, 'completed once');

  // Checked like any upload: the EICAR test file is refused and its bytes removed.
  const eicar = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');
  const e = expectStatus(await presign('eicar.txt', eicar.length), 201, 'presign').body;
  assert.equal((await put(e, eicar)).status, 200);
  expectError(await complete(e), 422, 'the scan');
  assert.ok(!(await stored()).includes(e.uploadId), 'refused bytes removed');
  // Bytes that are not what was announced: refused by the store (the size is signed) or on completion.
  const w = expectStatus(await presign('short.bin', 10), 201, 'presign').body;
  const wrong = await fetch(w.url, { method: 'PUT', headers: { 'content-length': '11' }, body: Buffer.alloc(11, 1) });
  const done = await complete(w);
  assert.ok(wrong.status >= 400 ? done.status === 409 : done.status === 400, `PUT ${wrong.status}, complete ${done.status}: ${done.text}`);
  assert.ok(!(await stored()).includes(w.uploadId));
  expectError(await presign('huge.bin', MAX + 1), 413, 'past FILES_MAX_BYTES');
});
