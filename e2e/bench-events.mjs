// Appends per second to a generated event store (issue 13), against the limit of this machine: a
// raw INSERT loop on the same table. Run by scripts/bench-events.sh (from e2e/, for its packages), which generates, builds and
// boots the app.
//   BASE_URL, DATABASE_URL (the app's database), TOTAL (appends per run), CONCURRENCY
import pg from 'pg';

const BASE = process.env.BASE_URL;
const TOTAL = Number(process.env.TOTAL ?? 4000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);

async function run(label, worker, perCall = 1) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, c) => {
      for (;;) {
        const i = next;
        next += perCall;
        if (i >= TOTAL) return;
        await worker(i, c);
      }
    }),
  );
  const s = (performance.now() - started) / 1000;
  console.log(`${label.padEnd(52)} ${String(Math.round(TOTAL / s)).padStart(7)} events/s  (${TOTAL} in ${s.toFixed(2)} s, ${CONCURRENCY} concurrent)`);
}

async function append(stream, body) {
  const r = await fetch(`${BASE}/events/${stream}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (r.status !== 201) throw new Error(`${r.status} ${await r.text()}`);
  await r.arrayBuffer();
}

const event = (i) => ({ type: 'bench.happened', data: { i, note: 'a small payload of a few dozen bytes' } });

// Warm up the app (JIT, pool).
await run('warm-up (many streams)', (i) => append(crypto.randomUUID(), { aggregateType: 'Bench', events: [event(i)] }));

const one = crypto.randomUUID();
await append(one, { aggregateType: 'Bench', events: [event(-1)] });
await run('HTTP append, one stream (serialized per stream)', (i) => append(one, { events: [event(i)] }));

const streams = Array.from({ length: CONCURRENCY }, () => crypto.randomUUID());
await run('HTTP append, one stream per client', (i, c) => append(streams[c], { aggregateType: 'Bench', events: [event(i)] }));
await run('HTTP append, a new stream each', (i) => append(crypto.randomUUID(), { aggregateType: 'Bench', events: [event(i)] }));
await run('HTTP append of 10 events, one stream per client', (i, c) => append(streams[c], { aggregateType: 'Bench', events: Array.from({ length: 10 }, (_, k) => event(i + k)) }), 10);

// The limit: the same rows inserted straight, one statement per row, one connection per client.
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: CONCURRENCY });
const versions = new Map();
await run('raw INSERT loop (pg, one row per statement)', async (i, c) => {
  const stream = streams[c];
  const v = (versions.get(stream) ?? 100000) + 1;
  versions.set(stream, v);
  await pool.query(
    'INSERT INTO events (aggregate_id, aggregate_type, version, event_type, event_data) VALUES ($1, $2, $3, $4, $5)',
    [stream, 'Bench', v, 'bench.happened', JSON.stringify(event(i).data)],
  );
});
await pool.end();
