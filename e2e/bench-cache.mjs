// Cached vs uncached reads of the same generated app (issue 17), in one run: two instances of
// one build on one database, one with the read cache (Redis), one with CACHE=off, measured in
// alternating rounds so both see the same machine. Run by scripts/bench-cache.sh (from e2e/,
// for its packages), which generates, builds and boots them.
//   CACHED_URL, UNCACHED_URL, DATABASE_URL (owner), SECONDS_PER_ROUND, CONCURRENCY
import pg from 'pg';
import { load } from './bench-load.mjs';

const CACHED = process.env.CACHED_URL;
const UNCACHED = process.env.UNCACHED_URL;
const SECONDS = Number(process.env.SECONDS_PER_ROUND ?? 8);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const ROWS = 20_000;
const HOT = 1_000;

const sql = new pg.Client({ connectionString: process.env.DATABASE_URL });
await sql.connect();
const org = (await sql.query("INSERT INTO organizations (name, slug) VALUES ('Bench', 'bench') RETURNING id")).rows[0].id;
await sql.query(
  `INSERT INTO projects (organization_id, name, description, status)
   SELECT $1, 'project ' || g, repeat('a description of a few words ', 4), CASE WHEN g % 3 = 0 THEN 'archived' ELSE 'active' END
     FROM generate_series(1, ${ROWS}) g`,
  [org],
);
await sql.query('ANALYZE projects');
const ids = (await sql.query(`SELECT id::text FROM projects ORDER BY random() LIMIT ${HOT}`)).rows.map((r) => r.id);

async function json(base, method, path, body, token) {
  const r = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}
const email = 'bench@bench.io';
const user = (await json(CACHED, 'POST', '/auth/register', { email, password: 'bench password 123', name: 'bench' })).data;
await sql.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [user.id]);
const member = (await sql.query("INSERT INTO organization_users (organization_id, email, name, role) VALUES ($1, $2, 'bench', 'owner') RETURNING id", [org, email])).rows[0].id;
await sql.query('INSERT INTO nestgen.member_links (member_id, user_id) VALUES ($1, $2)', [member, user.id]);
await sql.query("INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE slug = 'admin'", [user.id]);
const token = (await json(CACHED, 'POST', '/auth/login', { email, password: 'bench password 123' })).accessToken;
await sql.end();

const cases = [
  ['GET /v1/projects/:id (1,000 hot rows)', (i) => `/v1/projects/${ids[i % HOT]}`],
  ['GET /v1/projects?status=eq.active&limit=20', () => '/v1/projects?status=eq.active&limit=20'],
];
const headers = { authorization: `Bearer ${token}` };
const run = (base, pathOf, seconds) => load(base, (i) => ({ path: pathOf(i), headers }), { seconds, concurrency: CONCURRENCY });
for (const [label, pathOf] of cases) {
  // Warm both (JIT, pools, and the cache's entries).
  await run(CACHED, pathOf, 2);
  await run(UNCACHED, pathOf, 2);
  const rounds = { cached: [], uncached: [] };
  for (let round = 0; round < 2; round++) {
    rounds.cached.push(await run(CACHED, pathOf, SECONDS));
    rounds.uncached.push(await run(UNCACHED, pathOf, SECONDS));
  }
  console.log(`\n${label}, ${CONCURRENCY} concurrent, ${SECONDS} s per round, alternated:`);
  for (let r = 0; r < 2; r++) {
    const c = rounds.cached[r];
    const u = rounds.uncached[r];
    console.log(
      `  round ${r + 1}: cached ${Math.round(c.rps)} req/s (p50 ${c.p50} ms, p99 ${c.p99} ms; x-cache ${JSON.stringify(c.seen)})` +
        ` | uncached ${Math.round(u.rps)} req/s (p50 ${u.p50} ms, p99 ${u.p99} ms) | ratio ${(c.rps / u.rps).toFixed(2)}`,
    );
  }
}
