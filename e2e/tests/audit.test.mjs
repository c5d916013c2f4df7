// Audit trail over HTTP, against PostgreSQL. The same file runs against a project in mode
// "application" (the app writes audit rows) and one in mode "trigger" (an AFTER trigger does);
// each run writes a normalized trace of every audit row to AUDIT_TRACE_OUT, and the Rust test
// checks the two traces are identical.
//
// Project: seed scenario 2 (users, roles) + scenario 3 (audit_logs, field_changes, retention) +
// fixtures/pg/audit-extra.sql (documents: soft delete, a secret, numeric; document_tags:
// composite key; counters: bigint identity key), generated with the seed's commands.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { call, db, expectError, expectStatus } from './lib.mjs';

const MODE = process.env.AUDIT_MODE;
const APP_URL = process.env.DATABASE_URL_APP;
const PASSWORD = 'audit password 123';
let sql;
const tok = {};
const user = {};

const auth = (t, extra = {}) => ({ headers: { authorization: `Bearer ${t}`, ...extra } });

async function logCount() {
  return Number((await sql.query('SELECT count(*) AS n FROM audit_logs')).rows[0].n);
}

/** Audit rows written since `since` rows, oldest first, with their field changes. */
async function logsAfter(since) {
  const { rows } = await sql.query(
    `SELECT l.*, l.created_at::text AS at_text, COALESCE((SELECT json_agg(c ORDER BY c.field_name) FROM field_changes c WHERE c.audit_log_id = l.id), '[]') AS changes
       FROM audit_logs l ORDER BY l.created_at, l.id OFFSET $1`,
    [since],
  );
  return rows;
}

before(async () => {
  sql = await db();
  const roles = { admin: 'super-admin', member: 'user' };
  for (const [name, role] of Object.entries(roles)) {
    const email = `${name}@audit.io`;
    user[name] = expectStatus(
      await call('POST', '/auth/register', { email, password: PASSWORD, name: `The ${name}` }),
      201,
      `register ${name}`,
    ).body.data;
    await sql.query('INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE slug = $2', [user[name].id, role]);
    tok[name] = expectStatus(await call('POST', '/auth/login', { email, password: PASSWORD }), 200, `login ${name}`).body.accessToken;
  }
});

after(async () => {
  await sql?.end();
});

let doc;

test('create, update, no-op update, secret change, soft delete, restore: one row each, with who, where and why', async () => {
  const start = await logCount();
  const correlation = '6f1c2a54-3d7e-4b8a-9c0d-1e2f3a4b5c6d';
  const created = expectStatus(
    await call(
      'POST',
      '/documents',
      { title: 'Plan', body: 'v1', apiToken: 'tok-1', amount: '12345678901234567890.0123456789' },
      auth(tok.admin, { 'x-audit-reason': 'first draft', 'x-correlation-id': correlation, 'user-agent': 'audit-test/1.0' }),
    ),
    201,
    'create',
  );
  doc = created.body.data;
  assert.equal(created.headers.get('x-correlation-id'), correlation, 'the correlation id is echoed');
  const [ins] = await logsAfter(start);
  assert.equal(ins.table_name, 'documents');
  assert.equal(ins.record_id, doc.id, 'a uuid key is the record id');
  assert.equal(ins.operation, 'INSERT');
  assert.deepEqual([ins.user_id, ins.user_email, ins.user_name], [user.admin.id, 'admin@audit.io', 'The admin']);
  assert.deepEqual(
    [ins.ip_address, ins.user_agent, ins.reason, ins.correlation_id],
    ['127.0.0.1', 'audit-test/1.0', 'first draft', correlation],
  );
  assert.equal(ins.request_id, created.headers.get('x-request-id'), 'the request id is the one returned');
  assert.equal(ins.old_values, null);
  assert.equal(ins.new_values.api_token, '***', 'a secret is masked in new_values');
  assert.equal(ins.new_values.title, 'Plan');
  assert.deepEqual(ins.changed_fields, ['amount', 'api_token', 'body', 'created_at', 'id', 'title', 'updated_at']);
  assert.deepEqual(
    ins.changes.map((c) => c.field_name),
    ins.changed_fields,
    'one field change per changed field',
  );
  const token = ins.changes.find((c) => c.field_name === 'api_token');
  assert.deepEqual([token.old_value, token.new_value, token.is_sensitive], [null, '***', true], 'masked in field_changes too');
  assert.equal(ins.changes.find((c) => c.field_name === 'amount').new_value, '12345678901234567890.0123456789', 'exact numbers');
  assert.equal(ins.changes.find((c) => c.field_name === 'title').data_type, 'character varying(200)');

  let n = await logCount();
  expectStatus(await call('PATCH', `/documents/${doc.id}`, { title: 'Plan B' }, auth(tok.admin)), 200, 'update');
  const [upd] = await logsAfter(n);
  assert.equal(upd.operation, 'UPDATE');
  assert.deepEqual(upd.changed_fields, ['title', 'updated_at']);
  assert.deepEqual([upd.old_values.title, upd.new_values.title], ['Plan', 'Plan B']);
  assert.deepEqual(
    upd.changes.map((c) => [c.field_name, c.old_value === null ? null : 'x']).map((x) => x[0]),
    ['title', 'updated_at'],
  );
  assert.equal(upd.reason, null);

  n = await logCount();
  expectStatus(await call('PATCH', `/documents/${doc.id}`, { title: 'Plan B' }, auth(tok.admin)), 200, 'same value again');
  assert.equal(await logCount(), n, 'an update that changes nothing but updated_at is not recorded');

  expectStatus(await call('PATCH', `/documents/${doc.id}`, { apiToken: 'tok-2' }, auth(tok.admin)), 200, 'secret change');
  const [sec] = await logsAfter(n);
  assert.deepEqual(sec.changed_fields, ['api_token', 'updated_at'], 'a secret change is seen');
  assert.deepEqual([sec.old_values.api_token, sec.new_values.api_token], ['***', '***']);
  const c = sec.changes.find((x) => x.field_name === 'api_token');
  assert.deepEqual([c.old_value, c.new_value, c.is_sensitive], ['***', '***', true]);

  n = await logCount();
  expectStatus(
    await call('DELETE', `/documents/${doc.id}`, undefined, auth(tok.admin, { 'x-audit-reason': 'obsolete' })),
    204,
    'soft delete',
  );
  expectStatus(await call('POST', `/documents/${doc.id}/restore`, undefined, auth(tok.admin)), 200, 'restore');
  const [del, res] = await logsAfter(n);
  assert.deepEqual([del.operation, del.reason], ['DELETE', 'obsolete']);
  assert.ok(del.old_values.deleted_at === null && del.new_values.deleted_at !== null);
  assert.equal(res.operation, 'RESTORE');
  assert.ok(res.changed_fields.includes('deleted_at'));
});

test('composite and bigint keys, bulk, hard delete', async () => {
  let n = await logCount();
  expectStatus(await call('POST', '/document-tags', { documentId: doc.id, tag: 'red', note: 'n' }, auth(tok.admin)), 201, 'tag');
  const [tag] = await logsAfter(n);
  const {
    rows: [expected],
  } = await sql.query("SELECT md5(jsonb_build_array($1::uuid, 'red'::text)::text)::uuid::text AS id", [doc.id]);
  assert.equal(tag.record_id, expected.id, 'a composite key is hashed into the uuid record id');
  expectStatus(await call('DELETE', `/document-tags/${doc.id}/red`, undefined, auth(tok.admin)), 204, 'hard delete');
  const [gone] = await logsAfter(n + 1);
  assert.deepEqual([gone.operation, gone.record_id, gone.new_values], ['DELETE', expected.id, null]);
  assert.equal(gone.old_values.tag, 'red');

  n = await logCount();
  const made = expectStatus(
    await call('POST', '/counters/bulk', [{ label: 'a', value: '9007199254740993' }, { label: 'b' }, { label: 'c' }], auth(tok.admin)),
    201,
    'bulk',
  ).body.data;
  const bulk = await logsAfter(n);
  assert.equal(bulk.length, 3, 'one row per inserted row');
  assert.deepEqual(
    bulk.map((r) => r.operation),
    ['INSERT', 'INSERT', 'INSERT'],
  );
  const first = bulk.find((r) => r.new_values.label === 'a');
  const {
    rows: [bid],
  } = await sql.query('SELECT md5(jsonb_build_array($1::bigint)::text)::uuid::text AS id', [made[0].id]);
  assert.equal(first.record_id, bid.id, 'a bigint key is hashed');
  assert.equal(first.changes.find((x) => x.field_name === 'value').new_value, '9007199254740993', 'bigint kept exact');
});

test('a failed or refused change writes nothing', async () => {
  const n = await logCount();
  expectError(
    await call('POST', '/document-tags', { documentId: '00000000-0000-0000-0000-000000000000', tag: 'x' }, auth(tok.admin)),
    409,
    'foreign key',
  );
  expectError(await call('POST', '/counters', { label: 'a' }, auth(tok.admin)), 409, 'unique');
  expectError(await call('PATCH', `/documents/${doc.id}`, { title: 'nope' }, auth(tok.member)), 403, 'no permission');
  expectError(
    await call('PATCH', '/documents/00000000-0000-0000-0000-000000000000', { title: 'nope' }, auth(tok.admin)),
    404,
    'missing row',
  );
  expectError(await call('POST', '/counters/bulk', [{ label: 'z1' }, { label: 'a' }], auth(tok.admin)), 409, 'bulk: all or nothing');
  assert.equal(await logCount(), n);
  assert.equal(Number((await sql.query("SELECT count(*) AS n FROM counters WHERE label = 'z1'")).rows[0].n), 0);
});

test('history route; the trail is read-only for every role, and for the app role in SQL', async () => {
  const h = expectStatus(await call('GET', `/documents/${doc.id}/history`, undefined, auth(tok.admin)), 200, 'history').body;
  assert.deepEqual(
    h.data.map((e) => e.operation),
    ['RESTORE', 'DELETE', 'UPDATE', 'UPDATE', 'INSERT'],
    'newest first',
  );
  assert.equal(h.data[4].newValues.amount, '12345678901234567890.0123456789', 'exact in JSON too');
  assert.equal(h.data[4].newValues.api_token, '***');
  assert.ok(h.data[0].changes.some((c) => c.field === 'deleted_at'));
  assert.equal(
    expectStatus(await call('GET', `/documents/${doc.id}/history?limit=2&offset=1`, undefined, auth(tok.admin)), 200, 'page').body.data[0]
      .operation,
    'DELETE',
  );
  expectError(await call('GET', `/documents/${doc.id}/history`, undefined, auth(tok.member)), 403, 'history needs audit_logs:read');
  expectError(await call('GET', '/documents/00000000-0000-0000-0000-000000000000/history', undefined, auth(tok.admin)), 404, 'unknown row');
  expectError(await call('GET', `/documents/${doc.id}/history?limit=500`, undefined, auth(tok.admin)), 400, 'limit');

  const list = expectStatus(
    await call('GET', `/audit-logs?tableName=eq.documents&operation=eq.UPDATE`, undefined, auth(tok.admin)),
    200,
    'admin reads the trail',
  ).body.data;
  assert.equal(list.length, 2);
  expectError(await call('GET', '/audit-logs', undefined, auth(tok.member)), 403, 'member does not');
  const anyLog = list[0].id;
  for (const who of ['admin', 'member']) {
    for (const [method, path, body] of [
      ['POST', '/audit-logs', { tableName: 'x', recordId: doc.id, operation: 'INSERT' }],
      ['PATCH', `/audit-logs/${anyLog}`, { reason: 'forged' }],
      ['DELETE', `/audit-logs/${anyLog}`, undefined],
      ['POST', '/field-changes', { fieldName: 'x' }],
    ]) {
      expectError(await call(method, path, body, auth(tok[who])), 404, `${who} ${method} ${path}: no such route`);
    }
  }
  const app = new pg.Client({ connectionString: APP_URL });
  await app.connect();
  try {
    for (const stmt of [
      "UPDATE audit_logs SET reason = 'forged'",
      'DELETE FROM audit_logs',
      'DELETE FROM field_changes',
      'TRUNCATE audit_logs',
      "INSERT INTO audit_logs (table_name, record_id, operation) VALUES ('x', gen_random_uuid(), 'INSERT')",
      'DELETE FROM nestgen.audit_tables',
    ]) {
      await assert.rejects(app.query(stmt), /permission denied/, `the app role may not: ${stmt}`);
    }
    assert.ok(Number((await app.query('SELECT count(*) AS n FROM audit_logs')).rows[0].n) > 0, 'but may read');
    // The SECURITY DEFINER helpers are not the app's to call: no purging, no partition flood.
    for (const stmt of ['SELECT nestgen.audit_retention()', 'SELECT nestgen.audit_partitions_ahead(50)']) {
      await assert.rejects(app.query(stmt), /permission denied/, stmt);
    }
    const write = "SELECT nestgen.audit_record('public', 'documents', $1, '[]'::jsonb)";
    if (MODE === 'trigger') {
      await assert.rejects(app.query(write, ['INSERT']), /permission denied/, 'trigger mode: the app cannot write audit rows itself');
    } else {
      await assert.rejects(app.query(write, ['LOL']), /unknown operation/, 'only the four operations');
    }
  } finally {
    await app.end();
  }
});

test('retention removes only expired rows, then empty expired partitions; partitions are made ahead', async () => {
  // The maintenance function and the check in one transaction: one now(), so a month boundary
  // passing during the test cannot make them disagree.
  await sql.query('BEGIN');
  await sql.query('SELECT nestgen.audit_partitions_ahead(3)');
  const ahead = await sql.query(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_logs'::regclass AND c.relname = 'audit_logs_' || to_char(now() + interval '3 months', 'YYYY_MM')",
  );
  await sql.query('COMMIT');
  assert.equal(ahead.rows.length, 1, 'a partition three months ahead exists');
  // Shortening retention deletes audit rows: only a super-admin may, and the change is audited.
  expectError(
    await call('POST', '/audit-retention-policies', { tableName: 'documents', retentionDays: 1 }, auth(tok.member)),
    403,
    'member sets a policy',
  );
  const policy = expectStatus(
    await call('POST', '/audit-retention-policies', { tableName: 'documents', retentionDays: 30 }, auth(tok.admin)),
    201,
    'policy',
  ).body.data;
  const [logged] = (await logsAfter(0)).filter((r) => r.table_name === 'audit_retention_policies');
  assert.deepEqual([logged.operation, logged.record_id, logged.user_email], ['INSERT', policy.id, 'admin@audit.io']);
  // A policy under a day is ignored (it would purge the trail at once).
  expectStatus(
    await call('POST', '/audit-retention-policies', { tableName: 'counters', retentionDays: 0 }, auth(tok.admin)),
    201,
    'zero-day policy',
  );
  const old = async (table) =>
    (
      await sql.query(
        "INSERT INTO audit_logs (table_name, record_id, operation, created_at) VALUES ($1, gen_random_uuid(), 'INSERT', '2024-01-15') RETURNING id",
        [table],
      )
    ).rows[0].id;
  const oldDoc = await old('documents');
  await sql.query("INSERT INTO field_changes (audit_log_id, field_name, new_value) VALUES ($1, 'title', 'x')", [oldDoc]);
  const oldCounter = await old('counters');
  const before = await logCount();
  const r1 = (await sql.query('SELECT nestgen.audit_maintenance() AS r')).rows[0].r;
  assert.equal(r1.deletedRows, 1, 'the expired documents row');
  assert.equal(await logCount(), before - 1, 'recent rows and rows of tables without a policy stay');
  assert.equal(Number((await sql.query('SELECT count(*) AS n FROM audit_logs WHERE id = $1', [oldCounter])).rows[0].n), 1);
  assert.equal(
    Number((await sql.query('SELECT count(*) AS n FROM field_changes WHERE audit_log_id = $1', [oldDoc])).rows[0].n),
    0,
    'its field changes went with it',
  );
  const part = "SELECT count(*) AS n FROM pg_class WHERE relname = 'audit_logs_2024_01'";
  assert.equal(Number((await sql.query(part)).rows[0].n), 1, 'a partition that still holds a row stays');
  await sql.query('DELETE FROM audit_logs WHERE id = $1', [oldCounter]);
  const r2 = (await sql.query('SELECT nestgen.audit_maintenance() AS r')).rows[0].r;
  assert.equal(r2.droppedPartitions, 1);
  assert.equal(Number((await sql.query(part)).rows[0].n), 0, 'an empty expired partition is dropped');
  assert.equal(
    Number((await sql.query("SELECT count(*) AS n FROM audit_logs WHERE table_name = 'documents'")).rows[0].n),
    5,
    'current rows untouched',
  );
});

test('trace for comparing modes', async () => {
  const rows = await logsAfter(0);
  const ids = new Map();
  const norm = (v) => {
    if (typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v)) {
      if (!ids.has(v)) ids.set(v, `<id${ids.size}>`);
      return ids.get(v);
    }
    if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(v)) return '<time>';
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v)
          .sort()
          .map(([k, x]) => [k, norm(x)]),
      );
    return v;
  };
  // One transaction's rows (a bulk insert) share created_at; order them by content, not by id.
  const shape = (v) =>
    JSON.stringify(v, (_k, x) => (typeof x === 'string' && (/^[0-9a-f-]{36}$/i.test(x) || /^\d{4}-\d{2}-\d{2}[T ]/.test(x)) ? '<x>' : x));
  rows.sort(
    (a, b) => a.at_text.localeCompare(b.at_text) || shape(a.new_values ?? a.old_values).localeCompare(shape(b.new_values ?? b.old_values)),
  );
  const trace = rows.map((r) => {
    const { id: _id, request_id: _r, created_at: _c, at_text: _t, changes, ...rest } = r;
    return norm({ ...rest, changes: changes.map(({ id: _i, audit_log_id: _a, created_at: _c, ...c }) => c) });
  });
  assert.ok(trace.length >= 10, `only ${trace.length} audit rows`);
  if (process.env.AUDIT_TRACE_OUT) writeFileSync(process.env.AUDIT_TRACE_OUT, JSON.stringify({ mode: MODE, trace }, null, 1));
});

// After the trace: these differ between modes on purpose.

test('the audit row is part of the change: when it cannot be written, the change is undone', async () => {
  const d = expectStatus(
    await call('POST', '/documents', { title: 'Atomic', body: 'v1', apiToken: 't', amount: '1' }, auth(tok.admin)),
    201,
    'create',
  ).body.data;
  const before = await logCount();
  // The trail refuses one reason; a change giving it must leave nothing behind.
  await sql.query("ALTER TABLE audit_logs ADD CONSTRAINT audit_refuses CHECK (reason IS DISTINCT FROM 'refused by the trail')");
  try {
    const r = await call(
      'PATCH',
      `/documents/${d.id}`,
      { title: 'Changed' },
      auth(tok.admin, { 'x-audit-reason': 'refused by the trail' }),
    );
    assert.ok(r.status >= 400, `the change succeeded without its audit row (${r.status})`);
    const del = await call('DELETE', `/documents/${d.id}`, undefined, auth(tok.admin, { 'x-audit-reason': 'refused by the trail' }));
    assert.ok(del.status >= 400, `the delete succeeded without its audit row (${del.status})`);
  } finally {
    await sql.query('ALTER TABLE audit_logs DROP CONSTRAINT audit_refuses');
  }
  const row = (await sql.query('SELECT title, deleted_at FROM documents WHERE id = $1', [d.id])).rows[0];
  assert.deepEqual([row.title, row.deleted_at], ['Atomic', null], 'the change was rolled back with its audit row');
  assert.equal(await logCount(), before, 'no audit row either');
  // The same change with an acceptable reason goes through, with its row.
  expectStatus(
    await call('PATCH', `/documents/${d.id}`, { title: 'Changed' }, auth(tok.admin, { 'x-audit-reason': 'fine' })),
    200,
    'change',
  );
  assert.equal(await logCount(), before + 1);
});

test('changes made in SQL: recorded in trigger mode, not in application mode', async () => {
  const d = expectStatus(
    await call('POST', '/documents', { title: 'In SQL', body: 'v1', apiToken: 't', amount: '1' }, auth(tok.admin)),
    201,
    'create',
  ).body.data;
  const before = await logCount();
  await sql.query("UPDATE documents SET title = 'changed in SQL' WHERE id = $1", [d.id]);
  const rows = await logsAfter(before);
  if (MODE === 'trigger') {
    assert.equal(rows.length, 1, 'the trigger recorded the SQL change');
    assert.equal(rows[0].operation, 'UPDATE');
    assert.equal(rows[0].new_values.title, 'changed in SQL');
    assert.equal(rows[0].old_values.api_token, '***', 'secrets masked here too');
  } else {
    assert.equal(rows.length, 0, 'application mode records only what goes through the app');
  }
});
