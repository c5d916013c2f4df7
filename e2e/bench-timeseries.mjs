// Time-series throughput (issue 14), run by scripts/bench-timeseries.sh (from e2e/, for its
// packages), which generates, builds and boots seed scenario 5.
//   BASE_URL, DATABASE_URL (the owner's connection), APP_PID, INGEST_ROWS, QUERY_ROWS
// 1. NDJSON ingest over HTTP, against the limit of this machine: a raw COPY of the same rows into
//    the same table (no checks, no staging, no HTTP).
// 2. QUERY_ROWS rows over 30 days, the rollup refreshed, then bucketed queries: raw rows and
//    rollup, median of 5 runs each, with the same GROUP BY in SQL for reference.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

const BASE = process.env.BASE_URL;
const INGEST_ROWS = Number(process.env.INGEST_ROWS ?? 1_000_000);
const QUERY_ROWS = Number(process.env.QUERY_ROWS ?? 10_000_000);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const METRICS = ['cpu', 'mem', 'disk', 'net'];
const sql = new pg.Client({ connectionString: process.env.DATABASE_URL });
await sql.connect();

const vm = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${process.env.APP_PID}/status`, 'utf8'))[1]) / 1024;
const base = Math.floor((Date.now() - 5 * DAY) / HOUR) * HOUR;
const step = Math.floor((4 * DAY) / INGEST_ROWS);
const row = (i) => ({ time: new Date(base + i * step).toISOString(), metricName: METRICS[i % 4], value: ((i * 7919) % 1000) / 10, tags: { host: `h${i % 8}` }, source: 'bench' });

function rows(n, line) {
  let i = 0;
  return Readable.from(
    (function* () {
      while (i < n) {
        let chunk = '';
        for (let k = 0; k < 2000 && i < n; k++, i++) chunk += line(i);
        yield chunk;
      }
    })(),
  );
}

// 1. Ingest.
const rssBefore = vm('VmRSS');
let t = performance.now();
const res = await fetch(`${BASE}/metrics/ingest`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-ndjson' },
  body: Readable.toWeb(rows(INGEST_ROWS, (i) => `${JSON.stringify(row(i))}\n`)),
  duplex: 'half',
});
const report = await res.json();
if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(report)}`);
let s = (performance.now() - t) / 1000;
console.log(`HTTP ingest, NDJSON (checked, staged, COPY + INSERT)    ${String(Math.round(INGEST_ROWS / s)).padStart(8)} rows/s  (${INGEST_ROWS} in ${s.toFixed(1)} s; app RSS ${rssBefore.toFixed(0)} MB → peak ${vm('VmHWM').toFixed(0)} MB)`);

const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
const text = (i) => {
  const r = row(i);
  return `${r.time}\t${r.metricName}\t${r.value}\t${JSON.stringify(r.tags)}\tbench-copy\n`;
};
t = performance.now();
await pipeline(rows(INGEST_ROWS, text), client.query(copyFrom('COPY metrics (time, metric_name, value, tags, source) FROM STDIN')));
s = (performance.now() - t) / 1000;
console.log(`raw COPY of the same rows into the same table            ${String(Math.round(INGEST_ROWS / s)).padStart(8)} rows/s  (${INGEST_ROWS} in ${s.toFixed(1)} s)`);
await client.end();

// 2. Queries over QUERY_ROWS rows.
await sql.query('TRUNCATE metrics, metrics_hourly');
await sql.query('TRUNCATE nestgen.time_series_invalid');
await sql.query('UPDATE nestgen.time_series_rollups SET watermark = NULL');
const end = Math.floor(Date.now() / DAY) * DAY - DAY;
const start = end - 30 * DAY;
await sql.query("SELECT nestgen.ts_make_partitions('public.metrics', $1, $2)", [new Date(start), new Date(end)]);
t = performance.now();
await sql.query(
  `INSERT INTO metrics (time, metric_name, value, tags, source)
   SELECT to_timestamp($1::float8 / 1000 + i * ($2::float8 / $3) / 1000), (ARRAY['cpu','mem','disk','net'])[1 + i % 4],
          (i * 7919 % 1000) / 10.0, jsonb_build_object('host', 'h' || (i % 8)), 'bench'
     FROM generate_series(0::bigint, $3::bigint - 1) i`,
  [start, end - start, QUERY_ROWS],
);
await sql.query('ANALYZE metrics');
console.log(`(${QUERY_ROWS} rows over 30 days loaded by INSERT ... SELECT in ${((performance.now() - t) / 1000).toFixed(1)} s)`);
t = performance.now();
const m = await fetch(`${BASE}/metrics/maintenance`, { method: 'POST' });
if (m.status !== 200) throw new Error(`maintenance ${m.status} ${await m.text()}`);
console.log(`maintenance: rollup refreshed from empty over ${QUERY_ROWS} rows in ${((performance.now() - t) / 1000).toFixed(1)} s`);

async function median(label, run) {
  const ms = [];
  let last;
  for (let k = 0; k < 6; k++) {
    const t0 = performance.now();
    last = await run();
    if (k > 0) ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  console.log(`${label.padEnd(62)} ${ms[2].toFixed(1).padStart(8)} ms  ${last ?? ''}`);
}
async function series(params) {
  const r = await fetch(`${BASE}/metrics/series?${new URLSearchParams(params)}`);
  const body = await r.json();
  if (r.status !== 200) throw new Error(`${r.status} ${JSON.stringify(body)}`);
  return `(${body.meta.source}, ${body.data.reduce((n, x) => n + x.points.length, 0)} points)`;
}
const iso = (ms) => new Date(ms).toISOString();
const day = { from: iso(end - DAY), to: iso(end), bucket: '1h', group: 'metricName' };
const month = { from: iso(start), to: iso(end), bucket: '1d', group: 'metricName' };
for (const [name, q] of [
  ['1 day, 1 h buckets', day],
  ['30 days, 1 d buckets', month],
]) {
  await median(`${name}, avg,min,max,count by metric, raw rows`, () => series({ ...q, agg: 'avg,min,max,count', via: 'raw' }));
  await median(`${name}, avg,min,max,count by metric, rollup`, () => series({ ...q, agg: 'avg,min,max,count' }));
  await median(`${name}, p95 by metric (raw rows)`, () => series({ ...q, agg: 'p95' }));
  await median(`${name}, the same GROUP BY in SQL (no HTTP)`, async () => {
    await sql.query(
      `SELECT date_bin($1::interval, time, '2000-01-03') AS t, metric_name, avg(value), min(value), max(value), count(*)
         FROM metrics WHERE time >= $2 AND time < $3 GROUP BY 1, 2`,
      [q.bucket === '1h' ? '1 hour' : '1 day', q.from, q.to],
    );
  });
}
await sql.end();
