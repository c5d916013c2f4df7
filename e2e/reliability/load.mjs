// Load and database faults against a running generated app (scripts/reliability.sh).
//
//   node e2e/reliability/load.mjs --base URL --owner URL --admin URL --db NAME --write PATH
//        --table SCHEMA.TABLE [--key id] [--headers JSON] [--body JSON] [--seconds 60] [--connections 64]
//        [--fault-at 4] [--fault-for 3] [--out FILE]
//
// 1. Load: `connections` requests in flight for `seconds`, mixed reads and writes — list pages of
//    every collection route of the app's OpenAPI document (random limit and direction), rows
//    made by this run read by key, rows made (POST `write`, `body` with {n} replaced by a
//    counter) and changed (PATCH). Every answer must be a success: any error or other status
//    fails the run. Prints requests/s and latency percentiles.
// 2. Faults: a write load while the database goes away — new connections refused
//    (ALTER DATABASE ... ALLOW_CONNECTIONS false) and every connection of the app terminated
//    (pg_terminate_backend) at `fault-at` s, for `fault-for` s. Every answer must be a success
//    or, from the outage until the app recovers, 503; the app must recover by itself (no
//    restart); every write it acknowledged (2xx) must be in the table afterwards.
// Exit status 1 on any failure; the figures go to stdout (and `out`, as JSON).
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    base: { type: 'string' },
    owner: { type: 'string' },
    admin: { type: 'string' },
    db: { type: 'string' },
    write: { type: 'string' },
    table: { type: 'string' },
    key: { type: 'string', default: 'id' },
    headers: { type: 'string', default: '{}' },
    body: { type: 'string', default: '{"name":"load {n}"}' },
    seconds: { type: 'string', default: '60' },
    connections: { type: 'string', default: '64' },
    'fault-at': { type: 'string', default: '4' },
    'fault-for': { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});
for (const k of ['base', 'owner', 'admin', 'db', 'write', 'table']) {
  if (!opt[k]) {
    console.error(`--${k} is required`);
    process.exit(2);
  }
}
const pg = createRequire(resolve('e2e/package.json'))('pg');
const headers = JSON.parse(opt.headers);
const seconds = Number(opt.seconds);
const connections = Number(opt.connections);
let counter = 0;
const made = []; // keys of rows this run made (acknowledged)
let failures = [];
let unlisted = 0; // failures beyond the first 20

const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
function send(method, path, body) {
  return new Promise((resolveAnswer) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const h = { ...headers, ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}) };
    const started = performance.now();
    const req = http.request(opt.base + path, { agent, method, headers: h }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolveAnswer({ status: res.statusCode, body: json, text, ms: performance.now() - started });
      });
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
    req.on('error', (e) => resolveAnswer({ status: 0, text: String(e), ms: performance.now() - started }));
    req.end(data);
  });
}
const bodyFor = (n) => JSON.parse(opt.body.replaceAll('{n}', String(n)));
const keyOf = (answer) => answer.body?.data?.[opt.key] ?? answer.body?.[opt.key];

// Collection routes from the document: GET paths without parameters that answer a list.
const doc = (await send('GET', '/docs-json')).body;
if (!doc?.paths) throw new Error('the app serves no /docs-json (SWAGGER=false?)');
const lists = Object.entries(doc.paths)
  .filter(([p, item]) => !p.includes('{') && item.get?.operationId?.startsWith('list'))
  .map(([p]) => p);
if (lists.length === 0) throw new Error('no list routes in the document');

function percentiles(lat) {
  lat.sort((a, b) => a - b);
  const q = (p) => Number(lat[Math.min(lat.length - 1, Math.floor(lat.length * p))]?.toFixed(1));
  return { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: Number(lat.at(-1)?.toFixed(1)) };
}
function fail(what, answer) {
  if (failures.length < 20) failures.push(`${what}: ${answer.status} ${answer.text?.slice(0, 300)}`);
  else unlisted++;
}

// One request of the mixed load; `i` picks its kind (12/20 list, 3/20 get, 4/20 create, 1/20 change).
async function mixed(i, ok) {
  const k = i % 20;
  if (k >= 15 && k < 19) {
    const n = ++counter;
    const a = await send('POST', opt.write, bodyFor(n));
    if (ok(a, 201, `POST ${opt.write}`)) made.push(keyOf(a));
    return a;
  }
  if (k < 12 || made.length === 0) {
    const path = `${lists[i % lists.length]}?limit=${1 + (i % 50)}${i % 3 === 0 ? '&count=exact' : ''}`;
    const a = await send('GET', path);
    ok(a, 200, `GET ${path}`);
    return a;
  }
  if (k < 15) {
    const id = made[(i * 7919) % made.length];
    const a = await send('GET', `${opt.write}/${id}`);
    ok(a, 200, `GET ${opt.write}/${id}`);
    return a;
  }
  const id = made[(i * 104729) % made.length];
  const a = await send('PATCH', `${opt.write}/${id}`, bodyFor(++counter));
  ok(a, 200, `PATCH ${opt.write}/${id}`);
  return a;
}

async function run(durationS, workers, step) {
  const end = performance.now() + durationS * 1000;
  let i = 0;
  const lat = [];
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < end) {
        const a = await step(i++);
        lat.push(a.ms);
      }
    }),
  );
  return { requests: lat.length, rps: Math.round(lat.length / durationS), ...percentiles(lat) };
}

// 1. Load.
const statuses = {};
const strict = (a, want, what) => {
  statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  if (a.status !== want) {
    fail(what, a);
    return false;
  }
  return true;
};
const loadFigures = await run(seconds, connections, (i) => mixed(i, strict));
const loadFailures = failures;
console.log(`load: ${seconds} s, ${connections} connections: ${JSON.stringify({ ...loadFigures, statuses })}`);
for (const f of loadFailures) console.log(`  ${f}`);
if (unlisted > 0) console.log(`  ... and ${unlisted} more`);
unlisted = 0;

// 2. Faults.
failures = [];
const admin = new pg.Client({ connectionString: opt.admin });
await admin.connect();
const faultAt = Number(opt['fault-at']);
const faultFor = Number(opt['fault-for']);
const t0 = performance.now();
const now = () => (performance.now() - t0) / 1000;
let outageStart = Infinity;
let outageEnd = Infinity;
let recoveredAt = Infinity;
const faultStatuses = {};
const acked = [];
const tolerant = (a, want, what) => {
  faultStatuses[a.status] = (faultStatuses[a.status] ?? 0) + 1;
  const t = now();
  if (a.status === want) {
    if (t > outageEnd && recoveredAt === Infinity && what.startsWith('POST')) recoveredAt = t;
    return true;
  }
  // 503 from the start of the outage (requests sent just before it may answer in it) until the app recovered.
  if (a.status === 503 && t >= outageStart && t - a.ms / 1000 <= Math.max(outageEnd, recoveredAt === Infinity ? Infinity : recoveredAt) + 0.5) {
    return false;
  }
  fail(`${what} at ${t.toFixed(2)} s`, a);
  return false;
};
const writes = async (i) => {
  const n = ++counter;
  if (i % 4 === 3) return mixed(i * 20, tolerant); // a read now and then (list)
  const a = await send('POST', opt.write, bodyFor(n));
  if (tolerant(a, 201, 'POST')) acked.push(keyOf(a));
  return a;
};
const quote = (s) => `"${s.replace(/"/g, '""')}"`;
const dbIdent = quote(opt.db);
const fault = (async () => {
  await new Promise((r) => setTimeout(r, faultAt * 1000));
  outageStart = now();
  await admin.query(`ALTER DATABASE ${dbIdent} ALLOW_CONNECTIONS false`);
  const killed = await admin.query('SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [opt.db]);
  await new Promise((r) => setTimeout(r, faultFor * 1000));
  await admin.query(`ALTER DATABASE ${dbIdent} ALLOW_CONNECTIONS true`);
  outageEnd = now();
  return killed.rows[0].n;
})();
const faultSeconds = faultAt + faultFor + 6;
const faultFigures = await run(faultSeconds, 16, writes);
const terminated = await fault;
await admin.end();
const recovery = recoveredAt === Infinity ? null : Number((recoveredAt - outageEnd).toFixed(2));
if (recovery === null) failures.push('no write succeeded after the database came back: the app did not recover');
const health = await send('GET', '/health');
if (health.status !== 200) fail('GET /health after the faults', health);

// Every acknowledged write is in the table.
const owner = new pg.Client({ connectionString: opt.owner });
await owner.connect();
const [schema, table] = opt.table.split('.');
const keys = [...made, ...acked].map(String);
const found = (await owner.query(`SELECT count(*)::int AS n FROM ${quote(schema)}.${quote(table)} WHERE ${quote(opt.key)}::text = ANY($1::text[])`, [keys])).rows[0].n;
await owner.end();
if (found !== new Set(keys).size) failures.push(`${keys.length - found} acknowledged writes are missing from ${opt.table}`);
console.log(
  `faults: ${terminated} connections terminated and new ones refused for ${faultFor} s under ${faultFigures.rps} req/s of writes: ` +
    JSON.stringify({ statuses: faultStatuses, recoverySeconds: recovery, acknowledgedWrites: keys.length, found }),
);
for (const f of failures) console.log(`  ${f}`);
if (unlisted > 0) console.log(`  ... and ${unlisted} more`);
agent.destroy();
if (opt.out) {
  writeFileSync(
    opt.out,
    JSON.stringify({ load: { seconds, connections, ...loadFigures, statuses }, faults: { ...faultFigures, statuses: faultStatuses, recovery, terminated, acknowledged: keys.length, found } }, null, 2),
  );
}
process.exit(loadFailures.length + failures.length > 0 ? 1 : 0);
