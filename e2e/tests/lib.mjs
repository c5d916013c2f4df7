// Helpers for driving a generated app over HTTP and checking its database.
import assert from 'node:assert/strict';
import pg from 'pg';

export const BASE = process.env.BASE_URL ?? 'http://127.0.0.1:3000';
export const DATABASE_URL = process.env.DATABASE_URL;

/** Every response body seen, for the secrets scan. */
export const seenBodies = [];

export async function call(method, path, body, { headers = {}, raw = false } = {}) {
  const started = performance.now();
  const res = await fetch(BASE + path, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  seenBodies.push(text);
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, body: json, text, headers: res.headers, ms };
}

export function expectStatus(r, status, what) {
  assert.equal(r.status, status, `${what}: expected ${status}, got ${r.status}: ${r.text.slice(0, 400)}`);
  return r;
}

/** The one error shape. */
export function expectError(r, status, what) {
  expectStatus(r, status, what);
  assert.equal(r.body.statusCode, status, `${what}: error body statusCode`);
  assert.equal(typeof r.body.message, 'string', `${what}: error message`);
  assert.equal(typeof r.body.error, 'string', `${what}: error name`);
  assert.ok(r.body.requestId, `${what}: requestId`);
  return r;
}

export async function db() {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  return c;
}

/** Walk every page with cursors; returns the keys in order. */
export async function walkCursor(path, keyOf, limit) {
  const sep = path.includes('?') ? '&' : '?';
  const out = [];
  let cursor;
  for (let i = 0; i < 1000; i++) {
    const r = expectStatus(
      await call('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
      200,
      `cursor page ${i}`,
    );
    out.push(...r.body.data.map(keyOf));
    cursor = r.body.meta.nextCursor;
    if (!cursor) return out;
  }
  throw new Error('cursor never ended');
}

/** Walk every page with offsets; returns the keys in order. */
export async function walkOffset(path, keyOf, limit) {
  const sep = path.includes('?') ? '&' : '?';
  const out = [];
  for (let offset = 0; offset < 100000; offset += limit) {
    const r = expectStatus(await call('GET', `${path}${sep}limit=${limit}&offset=${offset}`), 200, `offset page ${offset}`);
    out.push(...r.body.data.map(keyOf));
    if (r.body.data.length < limit) return out;
  }
  throw new Error('offset never ended');
}

export function assertSameSequence(actual, expected, what) {
  assert.equal(new Set(actual).size, actual.length, `${what}: a row was repeated`);
  assert.deepEqual(actual, expected, `${what}: rows skipped or out of order`);
}

export const uuid = () => crypto.randomUUID();

/** Polls `check` until it returns something truthy (which it returns), failing after `ms`. */
export async function eventually(what, check, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Decode(s) {
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of s.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | ALPHABET.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** A raw message's body, quoted-printable decoded. */
function decodeBody(raw) {
  const [head, ...rest] = raw.split(/\r?\n\r?\n/);
  const body = rest.join('\n\n');
  if (!/content-transfer-encoding:\s*quoted-printable/i.test(head)) {
    return /content-transfer-encoding:\s*base64/i.test(head) ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8') : body;
  }
  return body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

/**
 * The body of the newest message the SMTP sink (MAIL_DIR) received for `to` whose subject
 * matches. Mail leaves the app after the response, so this waits for it (up to 10 s).
 */
export async function mailBody(to, subject) {
  const { readdirSync, readFileSync } = await import('node:fs');
  const dir = process.env.MAIL_DIR;
  assert.ok(dir, 'MAIL_DIR');
  for (let i = 0; i < 200; i++) {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .sort()
      .reverse();
    for (const f of files) {
      const raw = readFileSync(`${dir}/${f}`, 'utf8');
      const head = raw.split(/\r?\n\r?\n/)[0];
      const rcpt = /^X-Sink-To: (.*)$/m.exec(head)?.[1] ?? '';
      const subj = /^Subject: (.*)$/m.exec(head)?.[1] ?? '';
      if (rcpt.toLowerCase().includes(to.toLowerCase()) && subject.test(subj)) return decodeBody(raw);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no message to ${to} matching ${subject} arrived`);
}

/** The token in the newest matching message (see mailBody). */
export async function mailToken(to, subject) {
  const body = await mailBody(to, subject);
  const token = /token[:=] ?([A-Za-z0-9_-]{20,})/.exec(body)?.[1];
  assert.ok(token, `no token in the message to ${to}: ${body}`);
  return token;
}

/**
 * Operations of an OpenAPI document whose success is undocumented: no 2xx/3xx answer at all, or
 * a 2xx other than 204 without a schema for its body (what client generators cannot type).
 */
export function undocumentedSuccess(doc) {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const ok = Object.entries(op.responses ?? {}).filter(([status]) => /^[23]\d\d$/.test(status));
      if (!ok.length) out.push(`${method.toUpperCase()} ${path}: no success answer`);
      for (const [status, res] of ok) {
        if (status === '204' || status[0] === '3') continue;
        if (!Object.values(res.content ?? {}).some((c) => c.schema))
          out.push(`${method.toUpperCase()} ${path}: ${status} without a schema`);
      }
    }
  }
  return out;
}

/**
 * Operations of an OpenAPI document missing an error answer they can give: 400 when they take
 * parameters or a body, 401 when they name a security scheme, 403 when they require a
 * permission (`x-required-permission`). schemathesis found each kind missing once.
 */
export function undocumentedErrors(doc) {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const has = (status) => op.responses?.[status] !== undefined;
      const name = `${method.toUpperCase()} ${path}`;
      if ((op.parameters?.length || op.requestBody) && !has('400')) out.push(`${name}: no 400`);
      if (op.security?.length && !has('401')) out.push(`${name}: no 401`);
      if (op['x-required-permission'] && !has('403')) out.push(`${name}: no 403`);
    }
  }
  return out;
}

/**
 * Redocly's recommended rules over an OpenAPI document: the problems of severity `error`
 * (warnings, such as a missing license, are left to the project).
 */
export async function openApiErrors(doc) {
  const { createConfig, lintFromString } = await import('@redocly/openapi-core');
  const config = await createConfig({ extends: ['recommended'] });
  const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: 'openapi.json', config });
  return problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer ?? '?'}`);
}
