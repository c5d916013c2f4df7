// GET /<table>/aggregate on the seed (issue 21): every answer compared with the SQL GROUP BY
// that computes it by hand — groups, counts, sums and averages in the API's number formats
// (bigint and numeric as strings, floats as numbers), minima and maxima, time buckets in a time
// zone (of timestamptz and of naive UTC timestamps), the list's filters, sort and limit — and
// what it refuses: fields that cannot be grouped or aggregated so, secrets, bad units and zones.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { call, db, expectError, expectStatus } from './lib.mjs';

const tag = `agg${Date.now() % 100000}`;
let client;

before(async () => {
  client = await db();
  // Metrics of two names over three days, some without a resource type; times near midnight
  // UTC, so days in New York differ from days in UTC.
  const metrics = [];
  for (let i = 0; i < 30; i++) {
    const time = new Date(Date.UTC(2026, 0, 10 + (i % 3), i % 2 ? 2 : 15, i, 0));
    metrics.push([time.toISOString(), `${tag}-${i % 2 ? 'a' : 'b'}`, i * 1.5, i % 4 === 0 ? null : `type${i % 3}`]);
  }
  for (const m of metrics) {
    await client.query('INSERT INTO metrics (time, metric_name, value, resource_type) VALUES ($1, $2, $3, $4)', m);
  }
  for (let i = 0; i < 12; i++) {
    await client.query(
      `INSERT INTO user_summary (user_id, email, name, total_orders, total_spent, last_order_at, last_event_version)
       VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, 1)`,
      [`${tag}-${i}@example.com`, i % 3 ? 'Ann' : null, i * 1000, `${i}.${i % 10}5`, `2026-0${1 + (i % 3)}-01 03:30:00`],
    );
  }
});

after(() => client?.end());

const agg = async (path) => expectStatus(await call('GET', path), 200, path).body;

test('groups, counts, sums, averages, minima and maxima equal the SQL GROUP BY', async () => {
  const body = await agg(
    `/metrics/aggregate?metricName=like.${tag}-*&group=metricName,resourceType&agg=count,sum(value),avg(value),min(value),max(time),count(resourceType)`,
  );
  const { rows } = await client.query(
    `SELECT metric_name, resource_type, count(*)::int AS n, sum(value) AS s, avg(value) AS a, min(value) AS lo, max(time) AS hi, count(resource_type)::int AS c
       FROM metrics WHERE metric_name LIKE $1 GROUP BY 1, 2 ORDER BY 1, 2 NULLS LAST`,
    [`${tag}-%`],
  );
  assert.equal(body.meta.more, false);
  // Timestamps in the API's form (ISO 8601 with microseconds and offset), compared as instants.
  for (const r of body.data) r.max.time = new Date(r.max.time).toISOString();
  assert.deepEqual(
    body.data,
    rows.map((r) => ({
      group: { metricName: r.metric_name, resourceType: r.resource_type },
      count: r.n,
      sum: { value: r.s },
      avg: { value: r.a },
      min: { value: r.lo },
      max: { time: r.hi.toISOString() },
      counts: { resourceType: r.c },
    })),
  );
  // Without group: one row over everything the filters keep.
  const all = await agg(`/metrics/aggregate?metricName=like.${tag}-*&resourceType=not.is.null`);
  const n = await client.query('SELECT count(*)::int AS n FROM metrics WHERE metric_name LIKE $1 AND resource_type IS NOT NULL', [
    `${tag}-%`,
  ]);
  assert.deepEqual(all.data, [{ count: n.rows[0].n }]);
});

test('integer and decimal sums and averages are exact strings', async () => {
  const body = await agg(
    `/user-summary/aggregate?email=like.${tag}-*&group=name&agg=count,sum(totalOrders),sum(totalSpent),avg(totalSpent),max(totalSpent)`,
  );
  const { rows } = await client.query(
    `SELECT name, count(*)::int AS n, sum(total_orders)::text AS o, sum(total_spent)::text AS s, avg(total_spent)::text AS a, max(total_spent)::text AS m
       FROM user_summary WHERE email LIKE $1 GROUP BY 1 ORDER BY 1 NULLS LAST`,
    [`${tag}-%`],
  );
  assert.deepEqual(
    body.data,
    rows.map((r) => ({
      group: { name: r.name },
      count: r.n,
      sum: { totalOrders: r.o, totalSpent: r.s },
      avg: { totalSpent: r.a },
      max: { totalSpent: r.m },
    })),
  );
  assert.equal(typeof body.data[0].sum.totalSpent, 'string');
});

test('time buckets in a time zone, for timestamptz and naive UTC timestamps', async () => {
  for (const tz of ['UTC', 'America/New_York', 'Asia/Kolkata']) {
    const body = await agg(`/metrics/aggregate?metricName=eq.${tag}-a&bucket=time:day&tz=${tz}&agg=count,sum(value)`);
    const { rows } = await client.query(
      `SELECT date_trunc('day', time, $2) AS d, count(*)::int AS n, sum(value) AS s FROM metrics WHERE metric_name = $1 GROUP BY 1 ORDER BY 1`,
      [`${tag}-a`, tz],
    );
    assert.deepEqual(
      body.data.map((r) => [new Date(r.group.time).toISOString(), r.count, r.sum.value]),
      rows.map((r) => [r.d.toISOString(), r.n, r.s]),
      tz,
    );
  }
  // 02:xx UTC is the evening before in New York: the buckets differ from UTC's.
  const utc = await agg(`/metrics/aggregate?metricName=eq.${tag}-a&bucket=time:day`);
  const ny = await agg(`/metrics/aggregate?metricName=eq.${tag}-a&bucket=time:day&tz=America/New_York`);
  assert.notDeepEqual(
    utc.data.map((r) => r.group.time),
    ny.data.map((r) => r.group.time),
  );
  // A naive timestamp holds UTC: its months in Tokyo (03:30 UTC on the 1st is the 1st there too).
  const months = await agg(`/user-summary/aggregate?email=like.${tag}-*&bucket=lastOrderAt:month&tz=Asia/Tokyo&agg=count`);
  const { rows } = await client.query(
    `SELECT date_trunc('month', last_order_at AT TIME ZONE 'UTC', 'Asia/Tokyo') AS m, count(*)::int AS n FROM user_summary WHERE email LIKE $1 GROUP BY 1 ORDER BY 1`,
    [`${tag}-%`],
  );
  assert.deepEqual(
    months.data.map((r) => [new Date(r.group.lastOrderAt).toISOString(), r.count]),
    rows.map((r) => [r.m.toISOString(), r.n]),
  );
  assert.equal(months.data.length, 3);
  // Written as the table's own naive timestamps are: UTC with Z.
  assert.ok(months.data.every((r) => r.group.lastOrderAt.endsWith('Z')), JSON.stringify(months.data));
});

test('sort by an aggregate, limit with meta.more', async () => {
  const top = await agg(`/metrics/aggregate?metricName=like.${tag}-*&group=resourceType&agg=count,sum(value)&sort=-sum(value)&limit=2`);
  const { rows } = await client.query(
    `SELECT resource_type, count(*)::int AS n, sum(value) AS s FROM metrics WHERE metric_name LIKE $1 GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 2`,
    [`${tag}-%`],
  );
  assert.deepEqual(
    top.data.map((r) => [r.group.resourceType, r.count, r.sum.value]),
    rows.map((r) => [r.resource_type, r.n, r.s]),
  );
  assert.equal(top.meta.more, true);
  assert.equal(top.meta.limit, 2);
});

test('what aggregates refuse: 400 with the reason', async () => {
  const bad = [
    ['/metrics/aggregate?group=tags', 'a JSON field is not a group'],
    ['/metrics/aggregate?agg=sum(metricName)', 'no sum of text'],
    ['/metrics/aggregate?agg=avg', 'avg needs a field'],
    ['/metrics/aggregate?agg=count,count', 'count twice'],
    ['/metrics/aggregate?agg=median(value)', 'unknown aggregate'],
    ['/metrics/aggregate?agg=count(nope)', 'unknown field'],
    ['/metrics/aggregate?bucket=metricName:day', 'a bucket of text'],
    ['/metrics/aggregate?bucket=time:fortnight', 'unknown unit'],
    ['/metrics/aggregate?bucket=time:day&tz=Mars/Olympus', 'unknown zone'],
    ["/metrics/aggregate?bucket=time:day&tz=UTC';--", 'not a zone name'],
    ['/metrics/aggregate?tz=UTC', 'tz without bucket'],
    ['/metrics/aggregate?group=metricName&sort=value', 'sort on what is not in the answer'],
    ['/metrics/aggregate?limit=0', 'limit'],
    ['/metrics/aggregate?offset=10', 'offset'],
    ['/metrics/aggregate?value=gt.abc', "the list's filters are checked as the list checks them"],
    ['/file-shares/aggregate?agg=min(shareToken)', 'a write-only field cannot be aggregated'],
    ['/file-shares/aggregate?group=shareToken', 'nor grouped on'],
    ['/users/aggregate?agg=max(passwordHash)', 'nor a secret'],
  ];
  for (const [path, what] of bad) expectError(await call('GET', path), 400, what);
});

test('the OpenAPI document types the aggregate route per field', async () => {
  const doc = expectStatus(await call('GET', '/docs-json'), 200, 'docs').body;
  const op = doc.paths['/metrics/aggregate'].get;
  assert.equal(op.operationId, 'aggregateMetrics');
  const names = op.parameters.map((p) => p.name);
  for (const p of ['group', 'agg', 'bucket', 'tz', 'sort', 'limit', 'metricName']) assert.ok(names.includes(p), `${p} in ${names}`);
  const row = op.responses['200'].content['application/json'].schema.properties.data.items;
  assert.deepEqual(row.properties.sum.properties.value.type, ['number', 'null']);
  assert.equal(row.properties.max.properties.time.format, 'date-time');
  const summary = doc.paths['/user-summary/aggregate'].get.responses['200'].content['application/json'].schema.properties.data.items;
  assert.deepEqual(summary.properties.sum.properties.totalSpent.type, ['string', 'null']);
});
