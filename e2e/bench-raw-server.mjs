// The reference for scripts/bench-http.sh (issue 18): the same endpoints as the generated app
// for the bench table, written by hand on node:http and pg, the way a careful engineer would
// without a framework: parameterized SQL, the same JSON shapes, keyset cursor, soft delete.
// With TENANT_DATABASE_URL also the tenant-scoped list of the seed's projects as a hand-written
// server would do it under row-level security: the bearer token checked (HS256, expiry), then
// one transaction that sets the organization and user for the policies and reads the page.
//   DATABASE_URL, PORT, DB_POOL_MAX, TENANT_DATABASE_URL, AUTH_JWT_SECRET
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DB_POOL_MAX ?? 20) });
const COLS = 'id, status, name, price, created_at AS "createdAt", deleted_at AS "deletedAt"';
const STATUSES = new Set(['active', 'archived', 'draft']);

const tenantPool = process.env.TENANT_DATABASE_URL
  ? new pg.Pool({ connectionString: process.env.TENANT_DATABASE_URL, max: Number(process.env.DB_POOL_MAX ?? 20) })
  : undefined;
const SECRET = process.env.AUTH_JWT_SECRET ?? '';
const PROJECT_COLS =
  'id, organization_id AS "organizationId", name, description, owner_id AS "ownerId", status, created_at AS "createdAt", updated_at AS "updatedAt", deleted_at AS "deletedAt"';

/** The claims of a valid HS256 access token, or undefined. */
function claims(header) {
  const m = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!m) return undefined;
  const expected = createHmac('sha256', SECRET).update(`${m[1]}.${m[2]}`).digest();
  const given = Buffer.from(m[3], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  const c = JSON.parse(Buffer.from(m[2], 'base64url').toString());
  if (typeof c.exp !== 'number' || c.exp * 1000 < Date.now() || c.typ !== 'access' || typeof c.org !== 'string') return undefined;
  return c;
}

async function tenantList(req, res, url) {
  const c = claims(req.headers.authorization);
  if (!c) return send(res, 401, { statusCode: 401, message: 'sign in' });
  const limit = Math.min(Number(url.searchParams.get('limit') ?? 20) || 20, 100);
  const client = await tenantPool.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT set_config('app.current_organization_id', $1, true), set_config('nestgen.user_id', $2, true)", [c.org, c.sub]);
    const { rows } = await client.query(
      `SELECT ${PROJECT_COLS} FROM projects WHERE organization_id = $1 AND deleted_at IS NULL ORDER BY id LIMIT $2`,
      [c.org, limit + 1],
    );
    await client.query('COMMIT');
    const more = rows.length > limit;
    if (more) rows.pop();
    const meta = { limit, countMode: 'none', offset: 0 };
    if (more) meta.nextCursor = Buffer.from(JSON.stringify([rows[rows.length - 1].id])).toString('base64url');
    send(res, 200, { data: rows, meta });
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function list(res, url) {
  const limit = Math.min(Number(url.searchParams.get('limit') ?? 20) || 20, 100);
  const status = url.searchParams.get('status');
  const where = ['deleted_at IS NULL'];
  const params = [];
  if (status !== null) {
    const v = status.startsWith('eq.') ? status.slice(3) : null;
    if (v === null || !STATUSES.has(v)) return send(res, 400, { statusCode: 400, message: 'status: eq.<value>' });
    params.push(v);
    where.push(`status = $${params.length}`);
  }
  params.push(limit + 1);
  const { rows } = await pool.query(`SELECT ${COLS} FROM items WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${params.length}`, params);
  const more = rows.length > limit;
  if (more) rows.pop();
  const meta = { limit, countMode: 'none', offset: 0 };
  if (more) meta.nextCursor = Buffer.from(JSON.stringify([rows[rows.length - 1].id])).toString('base64url');
  send(res, 200, { data: rows, meta });
}

async function get(res, id) {
  if (!/^[0-9]{1,18}$/.test(id)) return send(res, 400, { statusCode: 400, message: 'id must be an integer' });
  const { rows } = await pool.query(`SELECT ${COLS} FROM items WHERE id = $1 AND deleted_at IS NULL`, [id]);
  if (!rows.length) return send(res, 404, { statusCode: 404, message: 'item not found' });
  send(res, 200, { data: rows[0] });
}

async function create(req, res) {
  let raw = '';
  for await (const chunk of req) {
    raw += chunk;
    if (raw.length > 1 << 20) return send(res, 413, { statusCode: 413, message: 'too large' });
  }
  let b;
  try {
    b = JSON.parse(raw);
  } catch {
    return send(res, 400, { statusCode: 400, message: 'invalid JSON' });
  }
  if (typeof b?.name !== 'string' || b.name.length === 0) return send(res, 400, { statusCode: 400, message: 'name is required' });
  if (b.status !== undefined && !STATUSES.has(b.status)) return send(res, 400, { statusCode: 400, message: 'bad status' });
  if (b.price !== undefined && b.price !== null && !/^-?[0-9]{1,8}(\.[0-9]{1,2})?$/.test(String(b.price))) return send(res, 400, { statusCode: 400, message: 'bad price' });
  const { rows } = await pool.query(`INSERT INTO items (name, status, price) VALUES ($1, coalesce($2, 'active'), $3) RETURNING ${COLS}`, [
    b.name,
    b.status ?? null,
    b.price ?? null,
  ]);
  send(res, 201, { data: rows[0] });
}

http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const parts = url.pathname.split('/').filter(Boolean);
    const done = (p) => p.catch((e) => send(res, 500, { statusCode: 500, message: e.message }));
    if (tenantPool && req.method === 'GET' && url.pathname === '/tenant/projects') return done(tenantList(req, res, url));
    if (parts[0] !== 'items' || parts.length > 2) return send(res, 404, { statusCode: 404, message: 'not found' });
    if (req.method === 'GET' && parts.length === 1) return done(list(res, url));
    if (req.method === 'GET') return done(get(res, parts[1]));
    if (req.method === 'POST' && parts.length === 1) return done(create(req, res));
    send(res, 405, { statusCode: 405, message: 'method not allowed' });
  })
  .listen(Number(process.env.PORT ?? 3001), '127.0.0.1', () => console.log('listening on', process.env.PORT));
