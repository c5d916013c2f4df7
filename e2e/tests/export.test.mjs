// GET /<table>/export on the seed (issue 21): CSV, NDJSON and XLSX hold exactly the rows and
// values the list returns with the same filters, sort and select= (embeds too); CSV is RFC 4180
// (quotes, commas, line breaks) and defuses spreadsheet formulas; XLSX is capped
// (EXPORT_XLSX_MAX_ROWS=25 for this app); exports hold a connection only while they stream: a
// client that goes away mid-file gives it back, one that stops reading loses its export after
// EXPORT_STALL_MS (1.5 s for this app), and more than EXPORT_MAX_CONCURRENT (2) at once, or a second of one caller, get 429. The 1,000,000-row memory test is export_streams_a_million_rows_in_bounded_memory.
import assert from 'node:assert/strict';
import http from 'node:http';
import { inflateRawSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { BASE, call, db, eventually, expectError, expectStatus } from './lib.mjs';

const tag = `exp${Date.now() % 100000}`;
let client;

before(async () => {
  client = await db();
  const types = ['plain', 'with, comma', 'with "quotes"', 'two\nlines', '=HYPERLINK("http://x")', '+1', ' padded ', null];
  for (let i = 0; i < 40; i++) {
    await client.query('INSERT INTO metrics (time, metric_name, value, resource_type, tags) VALUES ($1, $2, $3, $4, $5)', [
      new Date(Date.UTC(2026, 1, 1, 0, i)).toISOString(),
      tag,
      i / 4,
      types[i % types.length],
      i === 7 ? JSON.stringify('=SUM(A1:A9)') : i % 5 ? null : JSON.stringify({ i, note: 'a,b' }),
    ]);
  }
  // Enough rows that an unread export stays open (its socket buffers fill).
  await client.query(
    `INSERT INTO metrics (time, metric_name, value, resource_type)
     SELECT now() - g * interval '1 second', $1, g, repeat('x', 48) FROM generate_series(1, 100000) g`,
    [`${tag}-big`],
  );
});

after(() => client?.end());

async function download(path) {
  const res = await fetch(BASE + path);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, text: bytes.toString('utf8') };
}

/** RFC 4180 records. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  assert.equal(cell, '', 'the file ends with a line break');
  return rows;
}

/** The entries of a ZIP archive (central directory), inflated. */
function unzip(buf) {
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(end >= 0, 'a ZIP end record');
  let p = buf.readUInt32LE(end + 16);
  const out = new Map();
  for (let n = buf.readUInt16LE(end + 10); n > 0; n--) {
    assert.equal(buf.readUInt32LE(p), 0x02014b50);
    const [method, size, nameLen, extra, comment, local] = [
      buf.readUInt16LE(p + 10),
      buf.readUInt32LE(p + 20),
      buf.readUInt16LE(p + 28),
      buf.readUInt16LE(p + 30),
      buf.readUInt16LE(p + 32),
      buf.readUInt32LE(p + 42),
    ];
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString();
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + size);
    out.set(name, (method === 8 ? inflateRawSync(data) : data).toString('utf8'));
    p += 46 + nameLen + extra + comment;
  }
  return out;
}

/** Connections an export holds (its transaction open: running or between fetches). */
const exporting = async () =>
  (
    await client.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE state IN ('active', 'idle in transaction') AND (query LIKE 'FETCH % FROM __export' OR query LIKE 'DECLARE __export%')`,
    )
  ).rows[0].n;

const listOf = async (query) => expectStatus(await call('GET', `/metrics?${query}&limit=100`), 200, 'list').body.data;

const csvCell = (v) =>
  v === null
    ? ''
    : typeof v === 'object'
      ? JSON.stringify(v)
      : /^[=+\-@\t\r]/.test(String(v)) && typeof v === 'string'
        ? `'${v}`
        : String(v);

test('CSV holds the rows and values the list returns, quoted per RFC 4180, formulas defused', async () => {
  const query = `metricName=eq.${tag}&sort=-value&select=time,value,resourceType,tags`;
  const rows = await listOf(query);
  assert.equal(rows.length, 40);
  const r = await download(`/metrics/export?${query}`);
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.match(r.headers.get('content-type'), /^text\/csv/);
  assert.match(r.headers.get('content-disposition'), /^attachment; filename="metrics\.csv"$/);
  assert.equal(r.headers.get('cache-control'), 'private, no-store');
  const records = parseCsv(r.text);
  assert.deepEqual(records[0], ['time', 'value', 'resourceType', 'tags']);
  assert.deepEqual(
    records.slice(1),
    rows.map((x) => [x.time, x.value, x.resourceType, x.tags].map(csvCell)),
  );
  // The dangerous cells, as a spreadsheet will see them.
  const cells = records.slice(1).map((x) => x[2]);
  assert.ok(
    cells.includes(`'=HYPERLINK("http://x")`) && cells.includes(`'+1`) && cells.includes('two\nlines') && cells.includes(' padded '),
  );
  assert.ok(!cells.some((c) => c.startsWith('=')));
  // bom=true: the same file after a UTF-8 byte order mark (Excel reads it as UTF-8 then).
  const bom = await download(`/metrics/export?${query}&bom=true`);
  assert.deepEqual([...bom.bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  assert.equal(bom.bytes.subarray(3).toString('utf8'), r.text);
  // A JSON column holding a string is text to a spreadsheet too.
  assert.ok(records.slice(1).some((x) => x[3] === `'=SUM(A1:A9)`));
});

test('NDJSON equals the list, embeds included; limit takes the first rows', async () => {
  const query = `metricName=eq.${tag}&sort=time`;
  const rows = await listOf(query);
  const r = await download(`/metrics/export?format=ndjson&${query}`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/x-ndjson/);
  const lines = r.text.split('\n');
  assert.equal(lines.pop(), '');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l)),
    rows,
  );
  const first = await download(`/metrics/export?format=ndjson&${query}&limit=3`);
  assert.deepEqual(
    first.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
    rows.slice(0, 3),
  );
  // Embedded rows, as select= embeds them in the list.
  const sel = 'select=name,slug,parentRole(name)&sort=slug&slug=like.*';
  const list = expectStatus(await call('GET', `/roles?${sel}&limit=100`), 200, 'roles').body.data;
  const roles = await download(`/roles/export?format=ndjson&${sel}`);
  assert.deepEqual(
    roles.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
    list,
  );
});

test('XLSX: one sheet with a header row, numbers as numbers; over the cap a 400 before any byte', async () => {
  const query = `metricName=eq.${tag}&sort=time&select=metricName,value,resourceType`;
  const rows = (await listOf(query)).slice(0, 20);
  const r = await download(`/metrics/export?format=xlsx&${query}&limit=20`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  const files = unzip(r.bytes);
  for (const part of ['[Content_Types].xml', '_rels/.rels', 'xl/workbook.xml', 'xl/_rels/workbook.xml.rels'])
    assert.ok(files.has(part), part);
  const sheet = files.get('xl/worksheets/sheet1.xml');
  const xmlRows = [...sheet.matchAll(/<row r="(\d+)">(.*?)<\/row>/gs)];
  assert.equal(xmlRows.length, rows.length + 1);
  const unescape = (s) =>
    s
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, '&');
  const cells = (xml) =>
    Object.fromEntries(
      [
        ...xml.matchAll(/<c r="([A-Z]+)\d+"( t="inlineStr")?>(?:<v>([^<]*)<\/v>|<is><t xml:space="preserve">([^<]*)<\/t><\/is>)<\/c>/gs),
      ].map((m) => [m[1], m[2] ? unescape(m[4]) : Number(m[3])]),
    );
  assert.deepEqual(cells(xmlRows[0][2]), { A: 'metricName', B: 'value', C: 'resourceType' });
  rows.forEach((row, i) => {
    const want = { A: row.metricName, B: row.value };
    if (row.resourceType !== null) want.C = row.resourceType;
    assert.deepEqual(cells(xmlRows[i + 1][2]), want, `row ${i + 2}`);
  });
  expectError(await call('GET', `/metrics/export?format=xlsx&metricName=eq.${tag}`), 400, '40 rows over the cap of 25');
});

test('bad exports are 400s as bad lists are', async () => {
  for (const [path, what] of [
    ['/metrics/export?format=pdf', 'unknown format'],
    ['/metrics/export?format=ndjson&bom=true', 'a BOM is for CSV'],
    ['/metrics/export?bom=yes', 'bom: true or false'],
    ['/metrics/export?value=gt.abc', 'a malformed filter'],
    ['/metrics/export?sort=nope', 'unknown sort field'],
    ['/metrics/export?offset=5', 'offset'],
    ['/metrics/export?limit=0', 'limit'],
    ['/file-shares/export?select=id,shareToken', 'a write-only field'],
  ]) {
    expectError(await call('GET', path), 400, what);
  }
});

test('exports hold a connection only while they stream: gone clients give it back; one per caller, two at once', async () => {
  const path = `/metrics/export?metricName=eq.${tag}-big`;
  // Callers told apart by their address (anonymous here): 127.0.0.x are all this machine.
  const open = (from) =>
    new Promise((resolve, reject) => {
      const req = http.get(BASE + path, { localAddress: from }, (res) => {
        res.once('data', () => resolve({ status: res.statusCode, close: () => req.destroy() }));
        res.once('end', () => resolve({ status: res.statusCode, close: () => req.destroy() }));
      });
      req.on('error', reject);
    });
  const a = await open('127.0.0.1');
  assert.equal(a.status, 200);
  // Not read: it stays open, holding its connection; the same caller gets no second one.
  const again = expectError(await call('GET', path), 429, 'a second export of the same caller');
  assert.match(again.body.message, /the most one caller may/);
  const b = await open('127.0.0.2');
  assert.equal(b.status, 200, 'another caller gets the second slot');
  const c = await open('127.0.0.3');
  assert.equal(c.status, 429, 'a third export while two stream (EXPORT_MAX_CONCURRENT=2)');
  c.close();
  a.close();
  b.close();
  await eventually('the connections are back', async () => (await exporting()) === 0);
  // And the slots: two more exports run to the end.
  for (let i = 0; i < 3; i++) {
    const r = await download(`/metrics/export?format=ndjson&metricName=eq.${tag}&limit=1`);
    assert.equal(r.status, 200);
  }
  const full = await download(path);
  assert.equal(full.text.split('\r\n').length, 100000 + 2, 'header, 100,000 rows, the final line break');
});

test('a client that stops reading loses its export after EXPORT_STALL_MS (1.5 s here); its connection goes back', async () => {
  const res = await fetch(`${BASE}/metrics/export?metricName=eq.${tag}-big`);
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  await reader.read();
  await eventually('the export holds its connection while the client reads', async () => (await exporting()) === 1, 5_000);
  // The client goes quiet: its buffers fill, the server waits, then gives up.
  await eventually('the stalled export ended', async () => (await exporting()) === 0, 10_000);
  await assert.rejects(
    (async () => {
      for (;;) if ((await reader.read()).done) throw new Error('the file ended as if complete');
    })(),
    /terminated|aborted|closed|other side/,
  );
});
