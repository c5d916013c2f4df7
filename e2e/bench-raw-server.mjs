// The reference for scripts/bench-http.sh (issue 18): the same endpoints as the generated app
// for the bench table, written by hand on node:http and pg, the way a careful engineer would
// without a framework: parameterized SQL, the same JSON shapes, keyset cursor, soft delete.
//   DATABASE_URL, PORT, DB_POOL_MAX
import http from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DB_POOL_MAX ?? 20) });
const COLS = 'id, status, name, price, created_at AS "createdAt", deleted_at AS "deletedAt"';
const STATUSES = new Set(['active', 'archived', 'draft']);

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
    if (parts[0] !== 'items' || parts.length > 2) return send(res, 404, { statusCode: 404, message: 'not found' });
    if (req.method === 'GET' && parts.length === 1) return done(list(res, url));
    if (req.method === 'GET') return done(get(res, parts[1]));
    if (req.method === 'POST' && parts.length === 1) return done(create(req, res));
    send(res, 405, { statusCode: 405, message: 'method not allowed' });
  })
  .listen(Number(process.env.PORT ?? 3001), '127.0.0.1', () => console.log('listening on', process.env.PORT));
