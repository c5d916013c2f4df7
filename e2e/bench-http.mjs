// The generated app against a hand-written node:http + pg server (bench-raw-server.mjs) on the
// same table and database (issue 18), in one run: each endpoint measured on both, alternately,
// ROUNDS times, ratios taken within a round. Run by scripts/bench-http.sh.
//   RAW_URL, APP_URL, DATABASE_URL (owner), SECONDS_PER_ROUND, CONCURRENCY, ROUNDS; for the
//   tenant-scoped case TENANT_APP_URL and TENANT_DATABASE_URL (owner); RAW_PID, APP_PID and
//   TENANT_APP_PID (optional): the servers' CPU time per answered request is reported too (read
//   from /proc: steadier than req/s on a machine whose speed swings, since it counts only the
//   server's own work)
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { load } from './bench-load.mjs';

const RAW = process.env.RAW_URL;
const APP = process.env.APP_URL;
const SECONDS = Number(process.env.SECONDS_PER_ROUND ?? 10);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const ROUNDS = Number(process.env.ROUNDS ?? 2);

const sql = new pg.Client({ connectionString: process.env.DATABASE_URL });
await sql.connect();
const { rows } = await sql.query('SELECT min(id)::text AS lo, max(id)::text AS hi, count(*)::int AS n FROM items');
await sql.end();
const lo = Number(rows[0].lo);
const span = Number(rows[0].hi) - lo + 1;
console.log(`items: ${rows[0].n} rows`);
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

/** A signed-in owner of the first organization of the tenant database (its app registers them). */
async function tenantToken() {
  const base = process.env.TENANT_APP_URL;
  const db = new pg.Client({ connectionString: process.env.TENANT_DATABASE_URL });
  await db.connect();
  const json = async (path, body) => {
    const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (r.status >= 300) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  const email = 'bench@bench.io';
  const user = (await json('/auth/register', { email, password: 'bench password 123', name: 'bench' })).data;
  await db.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [user.id]);
  const org = (await db.query("SELECT id FROM organizations WHERE slug = 'bench-1'")).rows[0].id;
  const m = (await db.query("INSERT INTO organization_users (organization_id, email, name, role) VALUES ($1, $2, 'bench', 'owner') RETURNING id", [org, email])).rows[0].id;
  await db.query('INSERT INTO nestgen.member_links (member_id, user_id) VALUES ($1, $2)', [m, user.id]);
  await db.query("INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE slug = 'admin'", [user.id]);
  const n = (await db.query('SELECT count(*)::int AS n FROM projects WHERE organization_id = $1', [org])).rows[0].n;
  await db.end();
  console.log(`tenant database: the owner's organization holds ${n} projects`);
  return (await json('/auth/login', { email, password: 'bench password 123' })).accessToken;
}

/** CPU seconds (user + system) the process has used so far, or undefined without its pid. */
function cpuOf(pid) {
  if (!pid) return undefined;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** `load`, with the server's CPU microseconds per request when its pid is known. */
async function measure(base, pid, request, opts) {
  const before = cpuOf(pid);
  const r = await load(base, request, opts);
  if (before !== undefined) r.cpuUs = Math.round(((cpuOf(pid) - before) * 1e6) / (r.rps * opts.seconds));
  return r;
}

const same = (f) => () => f;
const cases = [
  ['list 20 rows', () => ({ path: '/items?limit=20' })],
  ['list filtered by status', () => ({ path: '/items?status=eq.archived&limit=20' })],
  // Every 50th row is soft-deleted (404): asked for its neighbour instead.
  ['get by id (random)', () => ({ path: `/items/${((n) => (n % 50 === 0 ? n + 1 : n))(lo + Math.floor(random() * (span - 1)))}` })],
  ['create', (i) => ({ method: 'POST', path: '/items', body: { name: `bench ${i}`, status: 'draft', price: '9.99' } }), 201],
].map(([label, request, status]) => [label, same(request), status]);
if (process.env.TENANT_APP_URL) {
  const headers = { authorization: `Bearer ${await tenantToken()}` };
  // The same question to each: the generated app's route, the raw server's hand-written one.
  cases.push([
    'tenant-scoped list (RLS, signed in)',
    (base) => (base === RAW ? () => ({ path: '/tenant/projects?limit=20', headers }) : () => ({ path: '/v1/projects?limit=20', headers })),
    200,
  ]);
}

const table = [];
for (const [label, requestFor, status = 200] of cases) {
  const opts = { seconds: SECONDS, concurrency: CONCURRENCY, status };
  const tenant = label.startsWith('tenant');
  const app = tenant ? process.env.TENANT_APP_URL : APP;
  await load(RAW, requestFor(RAW), { ...opts, seconds: 2 });
  await load(app, requestFor(app), { ...opts, seconds: 2 });
  const pids = { [RAW]: process.env.RAW_PID, [app]: tenant ? process.env.TENANT_APP_PID : process.env.APP_PID };
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate which goes first.
    const first = round % 2 ? [RAW, app] : [app, RAW];
    const r = {};
    for (const base of first) r[base] = await measure(base, pids[base], requestFor(base), opts);
    const raw = r[RAW];
    const gen = r[app];
    const cpu = raw.cpuUs && gen.cpuUs ? ` ${raw.cpuUs} | ${gen.cpuUs} | ${Math.round((100 * raw.cpuUs) / gen.cpuUs)} % |` : ' | | |';
    table.push(
      `| ${label} | ${round} | ${Math.round(raw.rps)} (p50 ${raw.p50}, p99 ${raw.p99}) | ${Math.round(gen.rps)} (p50 ${gen.p50}, p99 ${gen.p99}) | ${Math.round((100 * gen.rps) / raw.rps)} % |${cpu}`,
    );
    console.log(table[table.length - 1]);
  }
}
console.log(`\n${CONCURRENCY} in flight, ${SECONDS} s per measurement, req/s (latency ms)\n`);
console.log('| Endpoint | Round | raw node:http + pg | generated app | generated / raw | raw CPU us/req | app CPU us/req | raw / app CPU |');
console.log('|---|---|---|---|---|---|---|---|');
for (const line of table) console.log(line);
