// The generated app against a hand-written node:http + pg server (bench-raw-server.mjs) on the
// same table and database (issue 18), in one run: each endpoint measured on both, alternately,
// ROUNDS times, ratios taken within a round. Run by scripts/bench-http.sh.
//   RAW_URL, APP_URL, DATABASE_URL (owner), ROWS, SECONDS_PER_ROUND, CONCURRENCY, ROUNDS
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

const cases = [
  ['list 20 rows', () => ({ path: '/items?limit=20' })],
  ['list filtered by status', () => ({ path: '/items?status=eq.archived&limit=20' })],
  // Every 50th row is soft-deleted (404): asked for its neighbour instead.
  ['get by id (random)', () => ({ path: `/items/${((n) => (n % 50 === 0 ? n + 1 : n))(lo + Math.floor(random() * (span - 1)))}` })],
  ['create', (i) => ({ method: 'POST', path: '/items', body: { name: `bench ${i}`, status: 'draft', price: '9.99' } }), 201],
];

const table = [];
for (const [label, request, status = 200] of cases) {
  const opts = { seconds: SECONDS, concurrency: CONCURRENCY, status };
  await load(RAW, request, { ...opts, seconds: 2 });
  await load(APP, request, { ...opts, seconds: 2 });
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate which goes first.
    const first = round % 2 ? [RAW, APP] : [APP, RAW];
    const r = {};
    for (const base of first) r[base] = await load(base, request, opts);
    const raw = r[RAW];
    const app = r[APP];
    table.push(
      `| ${label} | ${round} | ${Math.round(raw.rps)} (p50 ${raw.p50}, p99 ${raw.p99}) | ${Math.round(app.rps)} (p50 ${app.p50}, p99 ${app.p99}) | ${Math.round((100 * app.rps) / raw.rps)} % |`,
    );
    console.log(table[table.length - 1]);
  }
}
console.log(`\n${CONCURRENCY} in flight, ${SECONDS} s per measurement, req/s (latency ms)\n`);
console.log('| Endpoint | Round | raw node:http + pg | generated app | generated / raw |');
console.log('|---|---|---|---|---|');
for (const line of table) console.log(line);
