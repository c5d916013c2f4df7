// pagila's `payment` (range-partitioned by month in its own dump) served as a time series:
// the project generated with `payment --features.time-series=true`, loaded as pg_dump wrote the
// database plus the project's db/08-time-series.sql. New rows get day partitions of their own
// beside the dump's months; series answer like SQL GROUP BY. Run by crates/cli/tests/e2e.rs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { call, db, expectStatus } from './lib.mjs';

let sql;
const HOUR = 3_600_000;
const start = Math.floor(Date.now() / HOUR) * HOUR - 30 * HOUR;

before(async () => {
  sql = await db();
});
after(async () => {
  await sql?.end();
});

test('payments stream in and come back per bucket as SQL computes them', async () => {
  const rows = Array.from({ length: 3000 }, (_, i) => ({
    customerId: 1 + (i % 7),
    staffId: 1 + (i % 2),
    rentalId: 1 + i,
    amount: ((i * 37) % 1000) / 100,
    paymentDate: new Date(start + i * 30_000).toISOString(),
  }));
  const nd = rows.map((r) => JSON.stringify(r)).join('\n');
  const r = await fetch(`${process.env.BASE_URL}/payment/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: nd,
  });
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal((await r.json()).accepted, 3000);
  const parts = (await sql.query("SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'payment'::regclass")).rows[0].n;
  assert.ok(parts > 7, `the dump's partitions and the app's (${parts})`);

  const from = new Date(start).toISOString();
  const to = new Date(start + 25 * HOUR).toISOString();
  const body = expectStatus(
    await call('GET', `/payment/series?from=${from}&to=${to}&bucket=1h&agg=sum,count,max&group=staffId`),
    200,
    'series',
  ).body;
  const expected = (
    await sql.query(
      `SELECT date_bin('1 hour', payment_date, '2000-01-03 00:00:00+00') AS t, staff_id, sum(amount)::float8 AS sum, count(*)::int AS count, max(amount)::float8 AS max
         FROM payment WHERE payment_date >= $1 AND payment_date < $2 GROUP BY 1, 2 ORDER BY 2, 1`,
      [from, to],
    )
  ).rows;
  const got = body.data.flatMap((s) => s.points.map((p) => [s.group.staffId, p.time, p.sum, p.count, p.max]));
  assert.deepEqual(
    got.map((x) => [x[0], x[1], Math.round(x[2] * 100), x[3], Math.round(x[4] * 100)]),
    expected.map((e) => [e.staff_id, e.t.toISOString(), Math.round(e.sum * 100), e.count, Math.round(e.max * 100)]),
  );
  // The dump's own rows are untouched and still read through the same route.
  expectStatus(await call('GET', '/payment?limit=5'), 200, 'list');
});

test('GET /payment/aggregate on the dump: per customer and per day in a time zone, as SQL GROUP BY computes them', async () => {
  const from = new Date(start).toISOString();
  const body = expectStatus(
    await call('GET', `/payment/aggregate?paymentDate=gte.${from}&group=customerId&agg=count,sum(amount),avg(amount),max(amount)`),
    200,
    'aggregate',
  ).body;
  const { rows } = await sql.query(
    `SELECT customer_id, count(*)::int AS n, sum(amount)::text AS s, avg(amount)::text AS a, max(amount)::text AS m
       FROM payment WHERE payment_date >= $1 GROUP BY 1 ORDER BY 1`,
    [from],
  );
  assert.deepEqual(
    body.data,
    rows.map((r) => ({
      group: { customerId: r.customer_id },
      count: r.n,
      sum: { amount: r.s },
      avg: { amount: r.a },
      max: { amount: r.m },
    })),
  );
  const days = expectStatus(
    await call(
      'GET',
      `/payment/aggregate?paymentDate=gte.${from}&bucket=paymentDate:day&tz=America/Sao_Paulo&agg=count,sum(amount)&sort=-count`,
    ),
    200,
    'days',
  ).body;
  const expected = (
    await sql.query(
      `SELECT date_trunc('day', payment_date, 'America/Sao_Paulo') AS d, count(*)::int AS n, sum(amount)::text AS s
         FROM payment WHERE payment_date >= $1 GROUP BY 1 ORDER BY 2 DESC, 1`,
      [from],
    )
  ).rows;
  assert.deepEqual(
    days.data.map((d) => [new Date(d.group.paymentDate).toISOString(), d.count, d.sum.amount]),
    expected.map((e) => [e.d.toISOString(), e.n, e.s]),
  );
});
