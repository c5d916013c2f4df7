// Time series over HTTP (seed scenario 5 with multi-tenancy), run by
// crates/cli/tests/e2e.rs::time_series_*: a million NDJSON rows streamed in (the app's peak
// memory measured), all-or-nothing ingest with the refused rows' lines, partial mode, CSV, JSON
// arrays and gzip; bucketed aggregates checked against SQL GROUP BY over the same rows; the
// rollup against the raw rows (and after late rows); another organization sees nothing;
// retention drops only whole expired partitions. Stock PostgreSQL: the series is range
// partitioned by the app.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { BASE, call, db, expectError, expectStatus } from './lib.mjs';

const APP_PID = process.env.APP_PID;
const APP_URL = process.env.DATABASE_URL_APP;
const ROWS = Number(process.env.TS_ROWS ?? 1_000_000);
const PASSWORD = 'series password 123';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const METRICS = ['cpu', 'mem', 'disk', 'net'];

let sql;
const org = {};
const tok = {};
/** The streamed rows: from `base`, one every `step` ms. */
const base = Math.floor((Date.now() - 10 * DAY) / HOUR) * HOUR;
const step = Math.floor((9 * DAY) / ROWS);
const dataEnd = base + ROWS * step;

const auth = (t, extra = {}) => ({ headers: { authorization: `Bearer ${t}`, ...extra } });
const iso = (ms) => new Date(ms).toISOString();

function row(i) {
  return {
    time: iso(base + i * step),
    metricName: METRICS[i % 4],
    value: ((i * 7919) % 1000) / 10 + (i % 7) * 0.125,
    tags: { host: `h${i % 8}` },
    resourceType: i % 3 === 0 ? 'vm' : 'container',
  };
}

/** POST a body to the ingest route as it is (a string, bytes or a stream). */
async function ingest(t, body, contentType, { query = '', headers = {} } = {}) {
  const res = await fetch(`${BASE}/metrics/ingest${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t}`, 'content-type': contentType, ...headers },
    body,
    duplex: 'half',
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
}

function vm(field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${APP_PID}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

async function countA(extra = '', params = []) {
  return Number(
    (await sql.query(`SELECT count(*)::int AS n FROM metrics WHERE organization_id = $1 ${extra}`, [org.A, ...params])).rows[0].n,
  );
}

async function series(t, params, status = 200, headers = {}) {
  const q = new URLSearchParams(params).toString();
  return expectStatus(await call('GET', `/metrics/series?${q}`, undefined, auth(t, headers)), status, `series ${q}`).body;
}

const close = (a, b, what) => {
  if (a === null || b === null) return assert.equal(a, b, what);
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)), `${what}: ${a} vs ${b}`);
};

/** The same aggregates by SQL GROUP BY over the raw rows of organization A. */
async function sqlBuckets(bucket, from, to, where = '', params = []) {
  const r = await sql.query(
    `SELECT date_bin($1::interval, time, '2000-01-03 00:00:00+00') AS t, metric_name,
            avg(value) AS avg, min(value) AS min, max(value) AS max, count(*)::int AS count, sum(value) AS sum,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95
       FROM metrics WHERE organization_id = $2 AND time >= $3 AND time < $4 ${where}
      GROUP BY 1, 2 ORDER BY 2, 1`,
    [bucket, org.A, new Date(from), new Date(to), ...params],
  );
  const out = new Map();
  for (const x of r.rows) {
    if (!out.has(x.metric_name)) out.set(x.metric_name, []);
    out.get(x.metric_name).push({ ...x, t: x.t.toISOString() });
  }
  return out;
}

function assertSameAsSql(body, expected, aggs, what) {
  const got = new Map(body.data.map((s) => [s.group.metricName, s.points]));
  assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort(), `${what}: groups`);
  for (const [metric, rows] of expected) {
    const points = got.get(metric);
    assert.deepEqual(
      points.map((p) => p.time),
      rows.map((r) => r.t),
      `${what}: ${metric} buckets`,
    );
    points.forEach((p, i) => {
      for (const a of aggs) {
        if (a === 'count') assert.equal(p.count, rows[i].count, `${what}: ${metric} ${p.time} count`);
        else close(p[a], rows[i][a], `${what}: ${metric} ${p.time} ${a}`);
      }
    });
  }
}

before(async () => {
  sql = await db();
  for (const slug of ['A', 'B']) {
    org[slug] = (
      await sql.query('INSERT INTO organizations (name, slug) VALUES ($1, $2) RETURNING id', [`Org ${slug}`, `ts-${slug.toLowerCase()}`])
    ).rows[0].id;
  }
  const admin = (await sql.query("SELECT id FROM roles WHERE slug = 'admin'")).rows[0].id;
  for (const o of ['A', 'B']) {
    const email = `owner${o.toLowerCase()}@series.io`;
    const user = expectStatus(await call('POST', '/auth/register', { email, password: PASSWORD, name: `Owner ${o}` }), 201, `register ${o}`)
      .body.data;
    await sql.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [user.id]);
    const m = (
      await sql.query("INSERT INTO organization_users (organization_id, email, name, role) VALUES ($1, $2, $3, 'owner') RETURNING id", [
        org[o],
        email,
        `Owner ${o}`,
      ])
    ).rows[0].id;
    await sql.query('INSERT INTO nestgen.member_links (member_id, user_id) VALUES ($1, $2)', [m, user.id]);
    await sql.query('INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)', [user.id, admin]);
    if (o === 'A') {
      // The maintenance routes are for operators: no default role holds metrics:manage.
      await sql.query(
        "INSERT INTO user_permissions (user_id, permission_id) SELECT $1, id FROM permissions WHERE slug = 'metrics:manage'",
        [user.id],
      );
    }
    tok[o] = expectStatus(await call('POST', '/auth/login', { email, password: PASSWORD }), 200, `login ${o}`).body.accessToken;
  }
});

after(async () => {
  await sql?.end();
});

test('a million NDJSON rows stream in through COPY; the app never holds the body', async () => {
  const rssBefore = vm('VmRSS');
  let i = 0;
  const enc = new TextEncoder();
  let bytes = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (i >= ROWS) return controller.close();
      let chunk = '';
      for (let n = 0; n < 2000 && i < ROWS; n++, i++) chunk += `${JSON.stringify(row(i))}\n`;
      bytes += chunk.length;
      controller.enqueue(enc.encode(chunk));
    },
  });
  const started = performance.now();
  const r = await ingest(tok.A, body, 'application/x-ndjson');
  const seconds = (performance.now() - started) / 1000;
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.data?.accepted ?? r.body.accepted, ROWS, r.text);
  const peak = vm('VmHWM');
  console.log(
    `# ingest: ${ROWS} rows, ${(bytes / 1e6).toFixed(1)} MB of NDJSON in ${seconds.toFixed(1)} s (${Math.round(ROWS / seconds)} rows/s); ` +
      `app RSS ${(rssBefore / 1e6).toFixed(0)} MB before, peak ${(peak / 1e6).toFixed(0)} MB`,
  );
  assert.equal(await countA(), ROWS, 'every row stored, in organization A (set by the server)');
  // The app runs with a 128 MB heap (NODE_OPTIONS): holding the body or its rows would kill it.
  assert.ok(
    peak - rssBefore < Math.max(bytes / 2, 64e6),
    `peak RSS grew by ${((peak - rssBefore) / 1e6).toFixed(0)} MB for a ${(bytes / 1e6).toFixed(0)} MB body`,
  );
  const spread = (await sql.query('SELECT count(DISTINCT tableoid)::int AS n FROM metrics')).rows[0].n;
  assert.ok(spread >= 9, `the rows landed in day partitions (${spread})`);
});

test('one malformed line: 422 naming its line and why, and nothing stored', async () => {
  const before = await countA();
  const t = base + 3 * HOUR + 17;
  const lines = [
    JSON.stringify({ time: iso(t), metricName: 'bad-batch', value: 1 }),
    JSON.stringify({ time: iso(t + 1), metricName: 'bad-batch', value: 2 }),
    '{"time": "2026-01-01T00:00:00Z", "metricName": ',
    JSON.stringify({ time: iso(t + 2), metricName: 'bad-batch', value: 3 }),
    JSON.stringify({ time: iso(t + 3), metricName: 'bad-batch', value: 'high' }),
    JSON.stringify({ time: iso(t + 4), metricName: 'x'.repeat(101), value: 4 }),
    JSON.stringify({ time: iso(Date.now() + 30 * DAY), metricName: 'bad-batch', value: 5 }),
    JSON.stringify({ time: iso(t + 5), value: 6 }),
    JSON.stringify({ time: '2026-02-30T00:00:00Z', metricName: 'bad-batch', value: 7 }),
  ];
  const r = await ingest(tok.A, `${lines.join('\n')}\n`, 'application/x-ndjson');
  assert.equal(r.status, 422, r.text);
  const d = r.body.details;
  assert.equal(d.rejected, 6, r.text);
  assert.deepEqual(
    d.errors.map((e) => e.line),
    [3, 5, 6, 7, 8, 9],
    r.text,
  );
  assert.match(d.errors[5].reason, /time/, 'February 30 is no date');
  assert.match(d.errors[1].reason, /value/);
  assert.match(d.errors[2].reason, /metricName.*100/);
  assert.match(d.errors[4].reason, /metricName/);
  assert.equal(await countA(), before, 'nothing stored');
  assert.equal(await countA("AND metric_name = 'bad-batch'"), 0);

  // A body that is not what it says: 400; an unknown column: 400 before anything is stored.
  expectError(await ingest(tok.A, '[{"time": 1', 'application/json'), 400, 'truncated JSON array');
  const unknown = await ingest(tok.A, `${JSON.stringify({ time: iso(t), metricName: 'x', value: 1, nope: 1 })}\n`, 'application/x-ndjson');
  assert.ok([400, 422].includes(unknown.status), unknown.text);
  expectError(await ingest(tok.A, 'a,b\n1,2\n', 'application/xml'), 415, 'unsupported type');
  // One line over TS_INGEST_MAX_LINE_BYTES (1 MiB by default): 413, whatever came before it.
  const long = `${lines[0]}\n${JSON.stringify({ time: iso(t), metricName: 'bad-batch', value: 1, tags: { pad: 'x'.repeat(1_100_000) } })}\n`;
  const tooLong = await ingest(tok.A, long, 'application/x-ndjson');
  assert.equal(tooLong.status, 413, tooLong.text.slice(0, 200));
  assert.match(tooLong.body.message, /line 2 .*TS_INGEST_MAX_LINE_BYTES/);
  assert.equal(await countA(), before);
});

test('partial=true stores the valid rows; CSV, JSON arrays and gzip', async () => {
  const t = base + 5 * HOUR + 500;
  const nd = [
    JSON.stringify({ time: iso(t), metricName: 'partial', value: 1 }),
    'not json',
    JSON.stringify({ time: iso(t + 1), metricName: 'partial', value: 2 }),
    JSON.stringify({ time: iso(t + 2), metricName: 'partial', value: 'x' }),
    JSON.stringify({ time: iso(t + 3), metricName: 'partial', value: 3 }),
  ].join('\n');
  const r = expectStatus(await ingest(tok.A, nd, 'application/x-ndjson', { query: '?partial=true' }), 200, 'partial');
  const report = r.body.data ?? r.body;
  assert.equal(report.accepted, 3);
  assert.equal(report.rejected, 2);
  assert.deepEqual(
    report.errors.map((e) => e.line),
    [2, 4],
  );
  assert.deepEqual(
    (await sql.query("SELECT value FROM metrics WHERE metric_name = 'partial' ORDER BY time")).rows.map((x) => x.value),
    [1, 2, 3],
  );

  // A time without an offset is UTC, whatever the app's host time zone.
  const naive = iso(t + 12_000).replace('Z', '');
  const csv = `time,metricName,value,tags,unit\n${iso(t + 10)},csv,1.5,"{""host"":""h1""}",ms\n${iso(t + 11)},csv,2.5,,\n${naive},csv,3.5,,\n`;
  const c = expectStatus(await ingest(tok.A, csv, 'text/csv'), 200, 'csv');
  assert.equal((c.body.data ?? c.body).accepted, 3);
  const csvRows = (await sql.query("SELECT value, tags, unit, organization_id, time FROM metrics WHERE metric_name = 'csv' ORDER BY time"))
    .rows;
  assert.deepEqual(
    csvRows.map((x) => [x.value, x.tags, x.unit, x.organization_id]),
    [
      [1.5, { host: 'h1' }, 'ms', org.A],
      [2.5, null, null, org.A],
      [3.5, null, null, org.A],
    ],
  );
  assert.equal(csvRows[2].time.getTime(), t + 12_000);

  // A deferred foreign key (as Rails writes them) is checked row by row in an ingest: the row it
  // refuses is named, the others stored.
  await sql.query(
    'ALTER TABLE metrics ADD CONSTRAINT e2e_deferred_user FOREIGN KEY (user_id) REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED',
  );
  try {
    const someone = (await sql.query('SELECT id FROM users LIMIT 1')).rows[0].id;
    const rows = [
      { time: iso(t + 30), metricName: 'deferred', value: 1, userId: someone },
      { time: iso(t + 31), metricName: 'deferred', value: 2, userId: '00000000-0000-4000-8000-000000000000' },
      { time: iso(t + 32), metricName: 'deferred', value: 3 },
    ];
    const d = expectStatus(await ingest(tok.A, JSON.stringify(rows), 'application/json', { query: '?partial=true' }), 200, 'deferred fk');
    const rep = d.body.data ?? d.body;
    assert.equal(rep.accepted, 2, d.text);
    assert.deepEqual(
      rep.errors.map((e) => e.row),
      [2],
    );
    assert.match(rep.errors[0].reason, /e2e_deferred_user/);
  } finally {
    await sql.query('ALTER TABLE metrics DROP CONSTRAINT e2e_deferred_user');
  }

  const arr = gzipSync(
    JSON.stringify([
      { time: iso(t + 20), metricName: 'gz', value: 7 },
      { time: t + 21, metricName: 'gz', value: 8 },
    ]),
  );
  const g = expectStatus(await ingest(tok.A, arr, 'application/json', { headers: { 'content-encoding': 'gzip' } }), 200, 'gzip array');
  assert.equal((g.body.data ?? g.body).accepted, 2);
  assert.equal(await countA("AND metric_name = 'gz'"), 2);
});

test('bucketed avg/min/max/count/sum/p95 equal SQL GROUP BY over the same rows', async () => {
  const aggs = ['avg', 'min', 'max', 'count', 'sum', 'p95'];
  for (const bucket of ['1h', '1d']) {
    const from = base + 7 * HOUR;
    const to = from + 4 * DAY + 5 * HOUR;
    const body = await series(tok.A, { from: iso(from), to: iso(to), bucket, agg: aggs.join(','), group: 'metricName', via: 'raw' });
    assert.equal(body.meta.source, 'raw');
    const expected = await sqlBuckets(bucket === '1h' ? '1 hour' : '1 day', from, to);
    assertSameAsSql(body, expected, aggs, `bucket ${bucket}`);
  }
  // Filters: the name, a tag, a dimension.
  const from = base;
  const to = base + 2 * DAY;
  const body = await series(tok.A, {
    from: iso(from),
    to: iso(to),
    bucket: '2h',
    agg: 'avg,count,p95',
    metric: 'cpu',
    tags: '{"host":"h4"}',
    resourceType: 'vm',
    group: 'metricName',
  });
  const expected = await sqlBuckets(
    '2 hours',
    from,
    to,
    "AND metric_name = 'cpu' AND tags @> '{\"host\":\"h4\"}' AND resource_type = 'vm'",
  );
  assert.ok(expected.get('cpu')?.length > 0);
  assertSameAsSql(body, expected, ['avg', 'count', 'p95'], 'filtered');

  // Gap fill: every bucket of the range, empty ones 0.
  const gapFrom = Math.floor((dataEnd + DAY) / HOUR) * HOUR;
  const gap = await series(tok.A, { from: iso(gapFrom - 6 * HOUR), to: iso(gapFrom), bucket: '1h', agg: 'count', fill: 'zero' });
  assert.equal(gap.data.length, 1);
  assert.equal(gap.data[0].points.length, 6);
  assert.ok(gap.data[0].points.every((p) => p.count === 0));

  // Filling makes every bucket of every group: counted against TS_MAX_POINTS (5000 here) first.
  const empty = Math.floor((Date.now() + 2 * DAY) / HOUR) * HOUR;
  expectError(
    await call(
      'GET',
      `/metrics/series?from=${iso(empty)}&to=${iso(empty + 6000 * 60_000)}&bucket=1m&agg=count&fill=zero`,
      undefined,
      auth(tok.A),
    ),
    400,
    'fill beyond TS_MAX_POINTS',
  );
  // Limits: 400 with the reason.
  expectError(
    await call('GET', `/metrics/series?from=${iso(base)}&to=${iso(base + 9 * DAY)}&bucket=1s`, undefined, auth(tok.A)),
    400,
    'too many buckets',
  );
  expectError(
    await call('GET', `/metrics/series?from=${iso(base - 800 * DAY)}&to=${iso(base)}&bucket=1d`, undefined, auth(tok.A)),
    400,
    'range too long',
  );
  expectError(await call('GET', '/metrics/series?agg=median', undefined, auth(tok.A)), 400, 'unknown aggregate');
  expectError(await call('GET', '/metrics/series?bucket=1h;drop', undefined, auth(tok.A)), 400, 'bad bucket');
  expectError(await call('GET', '/metrics/series?group=password', undefined, auth(tok.A)), 400, 'unknown group');
  expectError(await call('GET', '/metrics/series?nope=1', undefined, auth(tok.A)), 400, 'unknown parameter');
});

test('the rollup answers exactly what the raw rows answer, before and after late rows', async () => {
  const m = expectStatus(await call('POST', '/metrics/maintenance', undefined, auth(tok.A)), 200, 'maintenance').body;
  const report = m.data ?? m;
  assert.equal(report.rollups.length, 1, JSON.stringify(report));
  expectError(await call('POST', '/metrics/maintenance', undefined, auth(tok.B)), 403, 'maintenance needs metrics:manage');

  const aggs = ['avg', 'min', 'max', 'count', 'sum'];
  const compare = async (what, expectSource) => {
    for (const [bucket, from, to] of [
      ['1h', base + 3 * HOUR, base + 3 * DAY + 7 * HOUR],
      ['1d', Math.ceil(base / DAY) * DAY, Math.ceil(base / DAY) * DAY + 6 * DAY],
    ]) {
      const params = { from: iso(from), to: iso(to), bucket, agg: aggs.join(','), group: 'metricName' };
      const auto = await series(tok.A, params);
      const raw = await series(tok.A, { ...params, via: 'raw' });
      if (expectSource) assert.equal(auto.meta.source, expectSource, `${what} ${bucket}: answered by ${auto.meta.source}`);
      assert.equal(raw.meta.source, 'raw');
      assertSameAsSql(
        auto,
        await sqlBuckets(bucket === '1h' ? '1 hour' : '1 day', from, to),
        aggs,
        `${what} ${bucket} (${auto.meta.source})`,
      );
      assert.deepEqual(
        auto.data.map((s) => s.points.length),
        raw.data.map((s) => s.points.length),
      );
    }
  };
  await compare('after the maintenance', 'rollup');
  // Percentiles need the raw rows; an unaligned range too.
  const p = await series(tok.A, { from: iso(base + 3 * HOUR), to: iso(base + 5 * HOUR), bucket: '1h', agg: 'p95' });
  assert.equal(p.meta.source, 'raw');
  const odd = await series(tok.A, { from: iso(base + 3 * HOUR + 60_000), to: iso(base + 5 * HOUR), bucket: '1h', agg: 'avg' });
  assert.equal(odd.meta.source, 'raw');
  expectError(
    await call('GET', `/metrics/series?from=${iso(base)}&to=${iso(base + HOUR)}&agg=p95&via=rollup`, undefined, auth(tok.A)),
    400,
    'via=rollup cannot answer p95',
  );

  // Late rows into buckets the rollup already holds: answers stay right before the refresh...
  const late = [0, 1, 2, 3].map((k) => ({ time: iso(base + 4 * HOUR + k * 1000), metricName: 'cpu', value: 1000 + k }));
  late.push({ time: iso(base + 6 * DAY + 30 * 60_000), metricName: 'mem', value: 2000 });
  expectStatus(await ingest(tok.A, JSON.stringify(late), 'application/json'), 200, 'late rows');
  // Two buckets six days apart are two changed buckets, not every bucket between them.
  const invalid = (await sql.query('SELECT lo, hi FROM nestgen.time_series_invalid ORDER BY lo')).rows.map((x) => [
    x.lo.getTime(),
    x.hi.getTime(),
  ]);
  assert.deepEqual(invalid, [
    [base + 4 * HOUR, base + 4 * HOUR],
    [base + 6 * DAY, base + 6 * DAY],
  ]);
  await compare('late rows, before the refresh');
  // ...and the refresh folds them in.
  expectStatus(await call('POST', '/metrics/maintenance', undefined, auth(tok.A)), 200, 'maintenance');
  await compare('late rows, after the refresh', 'rollup');
});

test('another organization sees none of the series, its rollup or its storage', async () => {
  const params = { from: iso(base), to: iso(base + 9 * DAY), bucket: '1d', agg: 'count', group: 'metricName' };
  assert.deepEqual((await series(tok.B, params)).data, []);
  assert.deepEqual((await series(tok.B, { ...params, via: 'raw' })).data, []);
  const viaRollup = await call('GET', `/metrics/series?${new URLSearchParams({ ...params, via: 'rollup' })}`, undefined, auth(tok.B));
  assert.ok(viaRollup.status === 400 || (viaRollup.status === 200 && viaRollup.body.data.length === 0), viaRollup.text);
  expectError(
    await call('GET', `/metrics/series?${new URLSearchParams(params)}`, undefined, auth(tok.B, { 'x-organization-id': org.A })),
    403,
    'B acting in A',
  );
  // Filtering on A's organization from B finds nothing either.
  assert.deepEqual((await series(tok.B, { ...params, organizationId: org.A })).data, []);
  // The rollup's own route and the list.
  const hourly = expectStatus(await call('GET', '/metrics-hourly?limit=100', undefined, auth(tok.B)), 200, 'rollup list as B').body.data;
  assert.ok(
    hourly.every((h) => h.organizationId !== org.A),
    'no bucket of A',
  );
  const list = expectStatus(await call('GET', '/metrics?limit=100', undefined, auth(tok.B)), 200, 'list as B').body.data;
  assert.ok(list.every((x) => x.organizationId !== org.A));

  // B ingests a row claiming A: stored as B's (the server sets the tenant) or refused, never A's.
  const before = await countA();
  const r = await ingest(
    tok.B,
    JSON.stringify([{ time: iso(base + HOUR), metricName: 'cpu', value: 1, organizationId: org.A }]),
    'application/json',
  );
  assert.ok([200, 400, 422].includes(r.status), r.text);
  assert.equal(await countA(), before, 'nothing written into A');

  // Row-level security on the rollup table, as the app's role with B's organization set.
  const app = new pg.Client({ connectionString: APP_URL });
  await app.connect();
  try {
    await app.query('BEGIN');
    await app.query("SELECT set_config('app.current_organization_id', $1, true)", [org.B]);
    const seen = (await app.query('SELECT count(*)::int AS n FROM metrics_hourly WHERE organization_id = $1', [org.A])).rows[0].n;
    assert.equal(seen, 0, 'row-level security hides A’s buckets');
    await assert.rejects(app.query('DELETE FROM metrics_hourly'), /permission denied/);
    await app.query('ROLLBACK');
    const direct = (await sql.query("SELECT inhrelid::regclass::text AS p FROM pg_inherits WHERE inhparent = 'metrics'::regclass LIMIT 1"))
      .rows[0].p;
    await assert.rejects(
      app.query(`SELECT 1 FROM ${direct} LIMIT 1`),
      /permission denied/,
      'a partition is reached through its parent only',
    );
  } finally {
    await app.end();
  }
});

/** An NDJSON body the test feeds by hand: `send` a line, `end` it. */
function slowBody() {
  let ctl;
  const body = new ReadableStream({ start: (c) => (ctl = c) });
  const enc = new TextEncoder();
  return { body, send: (line) => ctl.enqueue(enc.encode(`${line}\n`)), end: () => ctl.close() };
}

test('ingests at once are capped per instance (503), and a client that stops sending loses its request (408)', async () => {
  const before = await countA();
  const t = base + 7 * HOUR;
  const slow = [slowBody(), slowBody()];
  const pending = slow.map((b, k) => {
    b.send(JSON.stringify({ time: iso(t + k), metricName: 'slow', value: k }));
    return ingest(tok.A, b.body, 'application/x-ndjson');
  });
  await new Promise((r) => setTimeout(r, 500));
  // TS_INGEST_CONCURRENCY=2: a third is turned away, nothing of it stored.
  const third = await ingest(tok.A, `${JSON.stringify({ time: iso(t + 9), metricName: 'slow', value: 9 })}\n`, 'application/x-ndjson');
  assert.equal(third.status, 503, third.text);
  // TS_INGEST_IDLE_SECONDS=2: the first stops sending and loses the request; the second finishes.
  const keep = setInterval(() => slow[1].send(JSON.stringify({ time: iso(t + 1), metricName: 'slow', value: 1 })), 300);
  const first = await pending[0].catch((e) => ({ status: 0, text: String(e) }));
  clearInterval(keep);
  slow[1].end();
  const second = await pending[1];
  assert.ok(first.status === 408 || first.status === 0, `the idle request: ${first.status} ${first.text}`);
  assert.equal(second.status, 200, second.text);
  const stored = (await sql.query("SELECT value FROM metrics WHERE metric_name = 'slow'")).rows.map((x) => x.value);
  assert.ok(stored.length > 1 && stored.every((v) => v === 1), `only the second request's rows: ${stored}`);
  assert.equal(await countA(), before + stored.length);
  // Without a retention, rows from 1900 and from today would need a partition for every day
  // between: counted, not walked, and refused whole.
  await sql.query("UPDATE nestgen.time_series SET retention = NULL WHERE series = 'public.metrics'");
  // The maintenance rereads the settings (the app caches them for a minute).
  expectStatus(await call('POST', '/metrics/maintenance', undefined, auth(tok.A)), 200, 'maintenance');
  try {
    const old = await ingest(
      tok.A,
      JSON.stringify([
        { time: '1900-01-01T00:00:00Z', metricName: 'old', value: 1 },
        { time: iso(Date.now()), metricName: 'old', value: 2 },
      ]),
      'application/json',
    );
    assert.equal(old.status, 422, old.text);
    assert.match(old.body.message, /partitions/);
  } finally {
    await sql.query("UPDATE nestgen.time_series SET retention = '90 days' WHERE series = 'public.metrics'");
    expectStatus(await call('POST', '/metrics/maintenance', undefined, auth(tok.A)), 200, 'maintenance');
  }
  assert.equal(await countA("AND metric_name = 'old'"), 0);
});

test('retention drops only whole expired partitions', async () => {
  const storage = expectStatus(await call('GET', '/metrics/storage', undefined, auth(tok.A)), 200, 'storage').body;
  assert.equal((storage.data ?? storage).storage, 'partitioned');
  const parts = async () =>
    (
      await sql.query(
        `SELECT p.part::text AS name, p.lo, p.hi, (SELECT count(*)::int FROM metrics m WHERE m.tableoid = p.part) AS n
           FROM nestgen.ts_partitions('public.metrics'::regclass) p WHERE NOT p.is_default ORDER BY p.lo`,
      )
    ).rows;
  const beforeParts = await parts();
  await sql.query("UPDATE nestgen.time_series SET retention = '5 days' WHERE series = 'public.metrics'");
  const cutoff = Date.now() - 5 * DAY;
  const m = expectStatus(await call('POST', '/metrics/maintenance', undefined, auth(tok.A)), 200, 'maintenance').body;
  const report = m.data ?? m;
  const expired = beforeParts.filter((p) => p.hi.getTime() <= cutoff);
  assert.ok(expired.length >= 3 && expired.some((p) => p.n > 0), `some partitions expired (${expired.length})`);
  assert.deepEqual([...report.droppedPartitions].sort(), expired.map((p) => `public.${p.name}`).sort());
  const known = new Set(beforeParts.map((p) => p.name));
  const afterParts = (await parts()).filter((p) => known.has(p.name));
  assert.deepEqual(
    afterParts.map((p) => [p.name, p.n]),
    beforeParts.filter((p) => p.hi.getTime() > cutoff).map((p) => [p.name, p.n]),
    'every other partition kept with all its rows (the one holding the cutoff too)',
  );
  await sql.query("UPDATE nestgen.time_series SET retention = '90 days' WHERE series = 'public.metrics'");
});
