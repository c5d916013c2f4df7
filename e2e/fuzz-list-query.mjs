#!/usr/bin/env node
// Fuzz of the list query language (src/core/crud/query.ts, copied verbatim into every project)
// as a generated project runs it: the compiled CrudRepository.list() of every resource of the
// seed project, with a fake database that records the statements it is sent.
//
//   node e2e/fuzz-list-query.mjs [--seconds N | --iterations N] [--seed N] [--project DIR]
//                                [--replay DIR] [--save DIR]
//
// --project: a folder to generate the project into once and reuse (default: a temporary one,
// removed at the end). --replay: first run every kept failing input (DIR/*.json: {resource,
// query}) again; --save: keep each new failing input there (scripts/fuzz.sh uses
// fuzz/regressions/query for both). Needs target/release/nest-generator (built when missing) and
// e2e/node_modules (npm ci when missing). No dependency besides those of generated projects.
//
// A fifth of the calls go to CrudRepository.aggregate() (GET /<table>/aggregate: group, agg,
// bucket, tz and sort on top of the same filters), with the same properties.
//
// Properties, per call:
//  - list() resolves, or rejects with the runtime's client error (an HttpException with status
//    400); anything else (TypeError, RangeError, another status) is a failure;
//  - no value of the query (nor a piece of one: a list item, an array item, a cursor value)
//    appears in the SQL text unless the resource's own spec holds that text too: values travel
//    as parameters;
//  - every statement uses exactly its parameters: each $n names one, and none is left unused;
//  - a nextCursor list() returns is taken back by the next page with the same sort.
// Failures print the resource and the query (util.inspect), and the run exits 1.

import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import util from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const seconds = Number(arg('seconds', process.argv.includes('--iterations') ? 'Infinity' : '30'));
const iterations = Number(arg('iterations', 'Infinity'));
const seed = Number(arg('seed', '1'));
const projectArg = arg('project', undefined);
const replayDir = arg('replay', undefined);
const saveDir = arg('save', undefined);

// ---------------------------------------------------------------------------------------------
// The project: generated from fixtures/seed, node_modules linked, compiled once.

function prepare(dir) {
  if (fs.existsSync(path.join(dir, 'dist/core/crud/query.js'))) return;
  const bin = path.join(root, 'target/release/nest-generator');
  if (!fs.existsSync(bin)) {
    execFileSync('cargo', ['build', '--release', '-q', '-p', 'nest-generator'], { cwd: root, stdio: 'inherit' });
  }
  const crud = path.join(root, 'crates/nestjs/templates/static/src/core/crud');
  const fuzzed = ['query.ts', 'repository.ts', 'resource.ts'];
  const newest = Math.max(...fuzzed.map((f) => fs.statSync(path.join(crud, f)).mtimeMs));
  if (newest > fs.statSync(bin).mtimeMs) {
    console.error(
      `warning: ${path.relative(root, crud)}/{${fuzzed.join(',')}} changed after target/release/nest-generator was built: ` +
        'the project gets the older runtime (cargo build --release -p nest-generator)',
    );
  }
  if (!fs.existsSync(path.join(root, 'e2e/node_modules'))) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: path.join(root, 'e2e'), stdio: 'inherit' });
  }
  execFileSync(bin, ['generate', '--schema', path.join(root, 'fixtures/seed'), '--out', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  const nm = path.join(dir, 'node_modules');
  if (!fs.existsSync(nm)) fs.symlinkSync(path.join(root, 'e2e/node_modules'), nm);
  execFileSync(path.join(nm, '.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: dir, stdio: 'inherit' });
}

const temporary = projectArg === undefined;
const project = path.resolve(projectArg ?? fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-list-query-')));
fs.mkdirSync(project, { recursive: true });
prepare(project);

const dist = path.join(project, 'dist');
const load = (p) => import(pathToFileURL(path.join(dist, p)).href);
const { CrudRepository } = await load('core/crud/repository.js');
const { encodeCursor, CONTROL_PARAMS } = await load('core/crud/query.js');
const { HttpException } = createRequire(path.join(project, 'package.json'))('@nestjs/common');

// Every resource spec the project exports (modules/<m>/<m>.resource.js).
const specs = [];
for (const m of fs.readdirSync(path.join(dist, 'modules')).sort()) {
  for (const f of fs.readdirSync(path.join(dist, 'modules', m)).sort()) {
    if (!f.endsWith('.resource.js')) continue;
    const mod = await load(`modules/${m}/${f}`);
    for (const [name, v] of Object.entries(mod)) {
      if (v && typeof v === 'object' && Array.isArray(v.fields) && typeof v.table === 'string') specs.push({ name, spec: v });
    }
  }
}
if (specs.length === 0) throw new Error(`no resource spec under ${dist}/modules`);

// ---------------------------------------------------------------------------------------------
// Deterministic randomness (mulberry32).

let state = seed >>> 0 || 1;
function rand() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const below = (n) => Math.floor(rand() * n);
const pick = (xs) => xs[below(xs.length)];
const chance = (p) => rand() < p;

// ---------------------------------------------------------------------------------------------
// The grammar: keys, operators, values of every field kind, lists, containers, sorts, cursors.

let markerCount = 0;
/** Text no spec holds: if it shows in SQL, a value was spliced in. */
const marker = () => `zq${(markerCount++).toString(36)}x`;

const ODD = [
  '',
  ' ',
  '.',
  '..',
  'null',
  'NULL',
  'notnull',
  'true',
  'false',
  'undefined',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '0x10',
  '\u0000',
  '\ud800',
  '🚀名前',
  '\u202e',
  "'; DROP TABLE users; --",
  '" OR 1=1 --',
  '$1',
  '$$',
  '\\',
  '*',
  '%',
  '_',
  '(',
  ')',
  '{',
  '}',
  '"',
  ',',
  '__proto__',
  'constructor',
];

function randomText() {
  switch (below(8)) {
    case 0:
      return pick(ODD);
    case 1:
      return marker() + pick(ODD) + marker();
    case 2: {
      // Arbitrary code units, surrogates included.
      let s = '';
      for (let i = below(12); i > 0; i--) s += String.fromCharCode(below(0x10000));
      return s;
    }
    case 3:
      return marker().repeat(1 + below(3)) + (chance(0.1) ? 'y'.repeat(below(200_000)) : '');
    default:
      return marker();
  }
}

function validScalar(field) {
  switch (field.kind) {
    case 'uuid':
      return pick(['00000000-0000-0000-0000-000000000000', '0189f7e6-3c1a-7b2d-9e4f-123456789abc', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF']);
    case 'int':
      return pick(['0', '1', '-1', '2147483647', '-2147483647', '2147483648', '-2147483648', '007', '-0']);
    case 'bigint':
      return pick(['0', '9223372036854775807', '-9223372036854775808', '9223372036854775808', '9999999999999999999']);
    case 'decimal':
    case 'float':
      return pick(['0', '1.5', '-.5', '1.', '1e10', '1E-10', '1e999999', '12345678901234567890.123']);
    case 'bool':
      return pick(['true', 'false']);
    case 'date':
      return pick(['2024-01-31', '2024-02-30', '0000-00-00', '9999-12-31']);
    case 'timestamp':
      return pick(['2024-01-02', '2024-01-02T03:04:05Z', '2024-01-02 03:04:05.123456+05:30', '2024-01-02T03:04+0100', '2024-13-45T99:99Z']);
    case 'time':
      return pick(['00:00', '23:59:59.999999', '12:00+01', '25:61']);
    case 'interval':
      return pick(['1 day', '-1 days +02:03:04', 'P1D', '1 year 2 mons', '99999999 years']);
    case 'enum':
      return field.values?.length ? pick(field.values) : marker();
    case 'json':
      return pick(['{}', '[]', '{"a":1}', '"x"', '1', 'null', `{"${marker()}":"${marker()}"}`]);
    default:
      return marker();
  }
}

function scalar(field) {
  const r = rand();
  if (r < 0.55) return validScalar(field);
  if (r < 0.75) return randomText();
  return pick(ODD);
}

function list(field) {
  if (chance(0.1)) return pick(['()', '(', ')', '(,)', '("a)', '(a,"b\\"c",d)', `(${'1,'.repeat(1001)}1)`]);
  const items = [];
  for (let i = 1 + below(4); i > 0; i--) {
    const v = scalar(field);
    items.push(chance(0.3) ? `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"` : v);
  }
  return `(${items.join(',')})`;
}

function container(field) {
  if (field.kind === 'json') return chance(0.8) ? validScalar(field) : randomText();
  if (chance(0.1)) return pick(['{}', '{', '}', '{,}', '{"a}', '(a,b)']);
  const items = [];
  for (let i = 1 + below(4); i > 0; i--) items.push(scalar(field));
  return `{${items.join(',')}}`;
}

const OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'in', 'is', 'cs', 'cd', 'ov'];

function filterValue(field) {
  if (chance(0.05)) return randomText();
  const negate = chance(0.15) ? (chance(0.9) ? 'not.' : 'not.not.') : '';
  const op = chance(0.85)
    ? chance(0.7) && field.ops.length
      ? pick(field.ops)
      : pick(OPS)
    : pick(['', 'EQ', 'eq ', 'fts', 'eq.eq', 'toString', '__proto__']);
  let value;
  switch (op) {
    case 'in':
      value = list(field);
      break;
    case 'is':
      value = pick(['null', 'NULL', 'notnull', 'true', 'false', 'unknown', randomText()]);
      break;
    case 'cs':
    case 'cd':
    case 'ov':
      value = container(field);
      break;
    case 'like':
    case 'ilike':
      value = chance(0.05) ? '*'.repeat(1001) : `*${randomText()}*`;
      break;
    default:
      value = scalar(field);
  }
  return chance(0.03) ? `${negate}${op}` : `${negate}${op}.${value}`;
}

function sortValue(spec) {
  if (chance(0.1)) return pick(['', ',', '-', '+', ' ', '--id', '-,', randomText()]);
  const parts = [];
  for (let i = 1 + below(3); i > 0; i--) {
    const f = pick(spec.fields);
    const name = chance(0.8) ? pick([f.property, f.column, f.filterKey]) : randomText();
    parts.push(`${pick(['', '', '-', '+', ' '])}${name}${chance(0.05) ? ' ' : ''}`);
  }
  return parts.join(',');
}

/** The sort signature the runtime makes for `raw` (to build cursors it takes), or undefined. */
function signatureOf(spec, raw) {
  const items = raw === undefined || raw === '' ? spec.defaultSort : raw.split(',');
  const keys = [];
  for (const item of items) {
    const desc = item.startsWith('-');
    const name = item.replace(/^[-+]/, '').trim();
    const f = spec.fields.find((x) => x.filterKey === name || x.property === name || x.column === name);
    if (!f || !f.sortable || keys.some((k) => k.f === f)) return undefined;
    keys.push({ f, desc });
  }
  if (spec.tieBreaker === 'key') {
    for (const k of spec.key) {
      const f = spec.fields.find((x) => x.property === k);
      if (f && !keys.some((s) => s.f === f)) keys.push({ f, desc: false });
    }
  }
  return { keys, text: keys.map((k) => `${k.desc ? '-' : ''}${k.f.property}`).join(',') + (spec.tieBreaker === 'ctid' ? ',ctid' : '') };
}

function cursorValue(spec, sortRaw) {
  const r = rand();
  if (r < 0.15) return pick(['', 'x', '!!!', 'eyJ9', Buffer.from('{"s":"id","v":[1]}').toString('base64url'), 'A'.repeat(5000)]);
  if (r < 0.25)
    return Buffer.from(JSON.stringify(pick([null, [], {}, { s: 1, v: [] }, { s: '', v: null }, { s: 'id', v: [{}] }]))).toString(
      'base64url',
    );
  const sig = signatureOf(spec, typeof sortRaw === 'string' ? sortRaw : undefined);
  const text = sig && chance(0.9) ? sig.text : randomText();
  const values = (sig?.keys ?? []).map((k) => (chance(0.1) ? null : scalar(k.f)));
  if (spec.tieBreaker === 'ctid') values.push(chance(0.7) ? `${below(100000)}:(${below(1000)},${below(100)})` : randomText());
  if (chance(0.1)) values.push('extra');
  if (chance(0.1)) values.pop();
  return encodeCursor(text, values);
}

const ODD_KEYS = [
  '',
  'select',
  'order',
  'or',
  'and',
  'q',
  'name[]',
  'a.b',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'LIMIT',
  'Sort',
];

function control(spec, name, query) {
  switch (name) {
    case 'limit':
    case 'offset':
      return pick([
        '0',
        '1',
        '20',
        '100',
        '101',
        '10000',
        '100000',
        '100001',
        '999999',
        '1000000',
        '-1',
        '1e2',
        ' 1',
        '01',
        '9'.repeat(25),
        '1.5',
        '',
      ]);
    case 'count':
      return pick(['exact', 'estimated', 'none', 'EXACT', '', 'true']);
    case 'withDeleted':
      return pick(['true', 'false', '1', '', 'TRUE']);
    case 'sort':
      return sortValue(spec);
    case 'cursor':
      return cursorValue(spec, query.sort);
    default:
      return randomText();
  }
}

/** A query object as the HTTP layer hands it over: strings, arrays for repeated keys, now and then something odd. */
function makeQuery(spec) {
  const entries = [];
  const query = Object.create(null);
  for (let n = below(6); n > 0; n--) {
    const r = rand();
    let key;
    let value;
    if (r < 0.5) {
      const f = pick(spec.fields);
      key = pick([f.filterKey, f.filterKey, f.property, f.column]);
      value = filterValue(f);
      if (chance(0.1)) value = [value, filterValue(f)];
    } else if (r < 0.85) {
      key = pick(CONTROL_PARAMS);
      value = control(spec, key, query);
      if (chance(0.03)) value = [value, value];
    } else {
      key = chance(0.7) ? pick(ODD_KEYS) : randomText();
      value = randomText();
    }
    if (chance(0.02)) value = pick([null, 1, true, {}, [], [[]], { toString: 'x' }, Object.create(null), ['a', 2]]);
    entries.push([key, value]);
    query[key] = value;
  }
  return Object.fromEntries(entries);
}

/** An aggregate request (GET /<table>/aggregate): group, agg, bucket, tz and sort over a list query. */
const AGG_FNS = ['count', 'sum', 'avg', 'min', 'max', 'median', 'COUNT', ''];
const UNITS = ['minute', 'hour', 'day', 'week', 'month', 'quarter', 'year', 'fortnight', 'DAY', ''];
const ZONES = ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Mars/Olympus', "UTC';--", 'utc', '+05:30', 'Etc/GMT+5', ''];

function fieldName(spec) {
  const f = pick(spec.fields);
  return chance(0.9) ? pick([f.property, f.column, f.filterKey]) : randomText();
}

function aggregateQuery(spec) {
  const query = makeQuery(spec);
  if (chance(0.7)) query.group = Array.from({ length: 1 + below(3) }, () => fieldName(spec)).join(pick([',', ',', ' ,', ',,']));
  if (chance(0.8)) {
    query.agg = Array.from({ length: 1 + below(4) }, () => {
      const fn = pick(AGG_FNS);
      return chance(0.2) ? fn : `${fn}(${fieldName(spec)})`;
    }).join(',');
  }
  if (chance(0.4)) query.bucket = `${fieldName(spec)}:${pick(UNITS)}`;
  if (chance(0.3)) query.tz = pick(ZONES);
  if (chance(0.3))
    query.sort = pick(['-count', 'count', `-${fieldName(spec)}`, typeof query.agg === 'string' ? `-${query.agg.split(',')[0]}` : 'x']);
  if (chance(0.05)) query.group = [String(query.group), 'x'];
  return query;
}

// ---------------------------------------------------------------------------------------------
// The fake database and the checks.

/** Text the SQL may hold legitimately: the spec's names and types, and the runtime's own words. */
function allowedTextOf(spec) {
  const strings = [];
  const walk = (v, key) => {
    if (key === 'extensions') return;
    if (typeof v === 'string' || typeof v === 'number') strings.push(String(v));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(spec, '');
  const words =
    'SELECT FROM WHERE AND OR NOT ORDER BY ASC DESC NULLS FIRST LAST LIMIT OFFSET IS NULL TRUE FALSE LIKE ILIKE ANY ARRAY' +
    " unnest AT TIME ZONE 'UTC' count(*)::text AS n EXPLAIN (FORMAT JSON) tableoid ctid ::oid ::tid ::text ::jsonb" +
    ' timestamptz[] || \':\' "__ctid" 1 AS "_" @> <@ &&';
  return `${strings.join(' ')} ${words} ${words.toLowerCase()}`;
}

function fakeValue(field, i) {
  switch (field.kind) {
    case 'uuid':
      return `0189f7e6-3c1a-7b2d-9e4f-${String(100000000000 + i).slice(-12)}`;
    case 'int':
    case 'float':
      return i;
    case 'bigint':
    case 'decimal':
      return String(i);
    case 'bool':
      return i % 2 === 0;
    case 'date':
      return '2024-01-02';
    case 'timestamp':
      return field.sqlType === 'timestamp without time zone' ? '2024-01-02T03:04:05.123456Z' : '2024-01-02T03:04:05.123456+00:00';
    case 'time':
      return '03:04:05';
    case 'interval':
      return '1 day 02:03:04';
    case 'enum':
      return field.values?.[i % field.values.length] ?? 'a';
    case 'json':
      return { a: i };
    default:
      return `row ${i} ${marker()}`;
  }
}

class FakeDb {
  constructor(spec) {
    this.spec = spec;
    this.statements = [];
    this.rows = 0;
  }
  async query(text, values = []) {
    this.statements.push({ text, values: [...values] });
    if (text.startsWith('EXPLAIN')) return { rows: [{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': 42 } }] }], rowCount: 1 };
    if (text.includes('count(*)')) return { rows: [{ n: '42' }], rowCount: 1 };
    const rows = [];
    for (let i = 0; i < this.rows; i++) {
      const row = {};
      for (const f of this.spec.fields) if (f.readable) row[f.property] = fakeValue(f, i);
      row.__ctid = `16384:(0,${i + 1})`;
      rows.push(row);
    }
    return { rows, rowCount: rows.length };
  }
  async transaction(fn) {
    return fn(this);
  }
}

/** Strings the query holds, and their pieces (list items, array items, cursor values). */
function pieces(query) {
  const out = [];
  const add = (s) => {
    if (typeof s !== 'string') return;
    out.push(s);
    const dot = s.replace(/^not\./, '').indexOf('.');
    if (dot >= 0) {
      const v = s.replace(/^not\./, '').slice(dot + 1);
      out.push(v);
      if (/^[({].*[)}]$/s.test(v)) for (const item of v.slice(1, -1).split(',')) out.push(item, item.replace(/^"|"$/g, ''));
    }
    try {
      const c = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
      if (c && Array.isArray(c.v)) for (const v of c.v) if (typeof v === 'string') out.push(v);
    } catch {
      // not a cursor
    }
  };
  for (const [k, v] of Object.entries(query)) {
    add(k);
    for (const x of Array.isArray(v) ? v : [v]) add(x);
  }
  return out;
}

function checkStatements(statements, allowed, query) {
  const problems = [];
  const texts = pieces(query).filter((p) => p.length >= 4 && !allowed.includes(p));
  for (const { text, values } of statements) {
    for (const p of texts) if (text.includes(p)) problems.push(`the value ${util.inspect(p.slice(0, 80))} is in the SQL text`);
    // `$n` outside quoted identifiers: each names a parameter, and all are used.
    const bare = text.replace(/"(?:[^"]|"")*"/g, '""');
    const used = new Set([...bare.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    for (const n of used) if (n < 1 || n > values.length) problems.push(`$${n} without a parameter (${values.length} given)`);
    for (let n = 1; n <= values.length; n++) if (!used.has(n)) problems.push(`parameter $${n} unused`);
  }
  return problems;
}

const isClientError = (e) => e instanceof HttpException && e.getStatus() === 400;

// ---------------------------------------------------------------------------------------------
// The run.

const allowed = new Map(specs.map(({ spec }) => [spec, allowedTextOf(spec)]));
const failures = [];
const seen = new Set();
const stats = { calls: 0, ok: 0, rejected: 0, cursorsFollowed: 0, aggregates: 0 };
const started = Date.now();

let currentMethod = 'list';
function fail(name, query, what) {
  const key = `${name}: ${what.replace(/\d+/g, 'N').slice(0, 120)}`;
  if (seen.has(key)) return;
  seen.add(key);
  failures.push({ name, query, what });
  if (saveDir) {
    const text = JSON.stringify({ resource: name, method: currentMethod, query, failure: what }, null, 2) + '\n';
    const file = path.join(saveDir, `${crypto.createHash('sha1').update(text).digest('hex').slice(0, 16)}.json`);
    fs.mkdirSync(saveDir, { recursive: true });
    fs.writeFileSync(file, text);
    console.error(`  kept ${path.relative(root, file)}`);
  }
  console.error(`FAIL ${name}: ${what}\n  query: ${util.inspect(query, { depth: 4, maxStringLength: 300, breakLength: Infinity })}`);
}

async function call(name, spec, query, rows, method = 'list') {
  const db = new FakeDb(spec);
  db.rows = rows;
  const repo = new CrudRepository(db, { ...spec, extensions: [] });
  stats.calls++;
  if (method === 'aggregate') stats.aggregates++;
  currentMethod = method;
  let result;
  try {
    result = await repo[method](query);
  } catch (e) {
    if (isClientError(e)) {
      stats.rejected++;
      return undefined;
    }
    fail(name, query, `threw ${e?.constructor?.name ?? typeof e}${e?.getStatus ? ` (status ${e.getStatus()})` : ''}: ${e?.message ?? e}`);
    return undefined;
  }
  stats.ok++;
  for (const p of checkStatements(db.statements, allowed.get(spec), query)) fail(name, query, p);
  return result;
}

// Kept failing inputs first: each must pass now.
let replayed = 0;
if (replayDir && fs.existsSync(replayDir)) {
  for (const f of fs
    .readdirSync(replayDir)
    .filter((x) => x.endsWith('.json'))
    .sort()) {
    const kept = JSON.parse(fs.readFileSync(path.join(replayDir, f), 'utf8'));
    const found = specs.find((s) => s.name === kept.resource);
    if (!found) {
      console.error(`${f}: no resource ${kept.resource} in the project; skipped`);
      continue;
    }
    const before = failures.length;
    seen.clear();
    await call(found.name, found.spec, Object.assign(Object.create(null), kept.query), 0, kept.method ?? 'list');
    replayed++;
    if (failures.length > before) console.error(`  (kept input ${f} fails again)`);
  }
}

let i = 0;
while (i < iterations && (Date.now() - started) / 1000 < seconds) {
  i++;
  const { name, spec } = pick(specs);
  // A fifth of the calls are aggregates: the same filters, its own grammar on top.
  if (chance(0.2)) {
    await call(name, spec, aggregateQuery(spec), chance(0.5) ? 3 : 0, 'aggregate');
    continue;
  }
  const query = makeQuery(spec);
  // A full page now and then, so list() makes a cursor; the next page must take it.
  const limit = typeof query.limit === 'string' && /^\d{1,5}$/.test(query.limit) ? Number(query.limit) : 0;
  const rows = chance(0.3) ? (limit || spec.defaultLimit) + 1 : 0;
  const result = await call(name, spec, query, rows);
  const next = result?.meta?.nextCursor;
  if (next) {
    const again = { ...query, cursor: next };
    delete again.offset;
    stats.cursorsFollowed++;
    const db = new FakeDb(spec);
    const repo = new CrudRepository(db, { ...spec, extensions: [] });
    try {
      await repo.list(again);
    } catch (e) {
      fail(name, again, `the nextCursor list() returned was refused: ${e?.constructor?.name}: ${e?.message}`);
    }
  }
}

const secs = (Date.now() - started) / 1000;
console.log(
  `list-query fuzz: ${stats.calls} calls in ${secs.toFixed(1)} s (${Math.round(stats.calls / secs)}/s), seed ${seed}, ` +
    `${specs.length} resources: ${stats.ok} answered, ${stats.rejected} refused with 400, ` +
    `${stats.cursorsFollowed} next cursors followed, ${stats.aggregates} aggregate calls, ${replayed} kept input(s) replayed; ${failures.length} failure(s)`,
);
if (temporary) fs.rmSync(project, { recursive: true, force: true });
process.exit(failures.length ? 1 : 0);
