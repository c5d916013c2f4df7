import { BadRequestException } from '@nestjs/common';
import { appSettings } from '../config.js';
import { type FieldSpec, type FilterOp, type ResourceSpec, ident, typedParam } from './resource.js';
import { searchSql } from './search.js';

/**
 * The list query language (PostgREST style):
 *   ?status=eq.active&age=gte.18&name=ilike.*smith*&id=in.(a,b)&deleted_at=is.null&tags=cs.{a,b}
 *   &status=not.eq.archived   &sort=-createdAt,name   &limit=20&offset=40 | &cursor=<opaque>
 *   &count=exact|estimated|none   &withDeleted=true
 * Unknown fields, operators and malformed values are 400s; values are always SQL parameters.
 */
/** Largest offset a list accepts (LIST_MAX_OFFSET, default 100000). */
export const MAX_OFFSET = appSettings().listMaxOffset;

export const CONTROL_PARAMS = ['limit', 'offset', 'cursor', 'sort', 'count', 'withDeleted', 'select', 'q'] as const;

export type CountMode = 'exact' | 'estimated' | 'none';

export interface SortKey {
  field: FieldSpec;
  desc: boolean;
}

export interface ListPlan {
  where: string[];
  params: unknown[];
  /** Conditions without the cursor, for counting. */
  countWhere: string[];
  countParams: unknown[];
  sort: SortKey[];
  /** Ties broken on the row's position, tableoid and ctid (tables without a key). */
  ctid: boolean;
  limit: number;
  offset: number;
  count: CountMode;
  sortSignature: string;
  /** `q=` without `sort`: rows by relevance first (this expression, descending); no cursor. */
  rank?: string;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const INT = /^-?\d{1,19}$/;
const DECIMAL = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/;
const TIME = /^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?$/;
const INTERVAL = /^[-+0-9a-zA-Z :.]{1,100}$/;

/**
 * What a filter value of each kind looks like, as regular-expression text without anchors (for
 * the OpenAPI document; int and bigint narrowed to values always in range).
 */
export const VALUE_FORMS: Partial<Record<FieldSpec['kind'], string>> = {
  uuid: UUID.source.slice(1, -1),
  int: '-?\\d{1,9}',
  bigint: '-?\\d{1,18}',
  decimal: `(?:${DECIMAL.source.slice(1, -1)})`,
  float: `(?:${DECIMAL.source.slice(1, -1)})`,
  bool: '(?:true|false)',
  // Dates the database takes whatever the month (the server also takes 29-31, checked there).
  date: '[1-9]\\d{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\\d|2[0-8])',
  timestamp:
    '[1-9]\\d{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\\d|2[0-8])(?:[T ](?:[01]\\d|2[0-3]):[0-5]\\d(?::[0-5]\\d(?:\\.\\d{1,6})?)?)?(?:Z|[+-](?:0\\d|1[0-4])(?::?[0-5]\\d)?)?',
  time: TIME.source.slice(1, -1),
  interval: INTERVAL.source.slice(1, -1),
};

export function bad(message: string): never {
  throw new BadRequestException(message);
}

/** Check one scalar value against its field's type; returns what to send as a parameter. */
export function scalarValue(field: FieldSpec, raw: string, where: string): string {
  const fail = (what: string) => bad(`${where}: "${raw}" is not ${what}`);
  switch (field.kind) {
    case 'uuid':
      if (!UUID.test(raw)) fail('a UUID');
      return raw;
    case 'int':
      if (!INT.test(raw) || Math.abs(Number(raw)) > 2147483647) fail('an integer');
      return raw;
    case 'bigint':
      if (!INT.test(raw) || BigInt(raw) > 9223372036854775807n || BigInt(raw) < -9223372036854775808n) fail('an integer');
      return raw;
    case 'decimal':
    case 'float':
      if (!DECIMAL.test(raw)) fail('a number');
      return raw;
    case 'bool':
      if (raw !== 'true' && raw !== 'false') fail('true or false');
      return raw;
    case 'date':
      if (!DATE.test(raw)) fail('a date (YYYY-MM-DD)');
      return raw;
    case 'timestamp':
      if (!TIMESTAMP.test(raw)) fail('an ISO 8601 timestamp');
      return raw;
    case 'time':
      if (!TIME.test(raw)) fail('a time (HH:MM[:SS])');
      return raw;
    case 'interval':
      if (!INTERVAL.test(raw)) fail('an interval');
      return raw;
    case 'enum':
      if (field.values && !field.values.includes(raw)) fail(`one of ${field.values.join(', ')}`);
      return raw;
    default:
      return raw;
  }
}

/** `(a,"b,c",d)` → ['a', 'b,c', 'd'] */
export function parseList(raw: string, where: string): string[] {
  if (!raw.startsWith('(') || !raw.endsWith(')')) bad(`${where}: a list is written (a,b,c)`);
  const inner = raw.slice(1, -1);
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '"') {
      quoted = !quoted;
    } else if (c === '\\' && quoted && i + 1 < inner.length) {
      cur += inner[++i];
    } else if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  if (quoted) bad(`${where}: unclosed quote in list`);
  if (inner.length > 0) out.push(cur);
  if (out.length === 0) bad(`${where}: the list is empty`);
  if (out.length > 1000) bad(`${where}: at most 1000 values`);
  return out;
}

/** `{a,b}` for arrays; JSON for json fields. */
function containerValue(field: FieldSpec, raw: string, where: string): string | string[] {
  if (field.kind === 'json') {
    try {
      JSON.parse(raw);
    } catch {
      bad(`${where}: "${raw}" is not JSON`);
    }
    return raw;
  }
  if (!raw.startsWith('{') || !raw.endsWith('}')) bad(`${where}: an array value is written {a,b}`);
  const items = parseList(`(${raw.slice(1, -1)})`, where);
  return items.map((v) => scalarValue(field, v, where));
}

/** Where a condition's values go: `add` returns the placeholder. */
export interface ParamSink {
  add(v: unknown): string;
}

class Params implements ParamSink {
  constructor(readonly values: unknown[] = []) {}
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

/** One `field=[not.]op.value` condition as SQL. */
export function condition(field: FieldSpec, raw: string, params: ParamSink): string {
  const where = `filter ${field.filterKey}`;
  let rest = raw;
  let negate = false;
  if (rest.startsWith('not.')) {
    negate = true;
    rest = rest.slice(4);
  }
  const dot = rest.indexOf('.');
  if (dot < 0) bad(`${where}: write operator.value, e.g. eq.${raw || 'value'}`);
  const op = rest.slice(0, dot) as FilterOp;
  const value = rest.slice(dot + 1);
  if (!field.ops.includes(op)) {
    bad(`${where}: operator "${rest.slice(0, dot)}" is not allowed; use one of ${field.ops.join(', ')}`);
  }
  const col = ident(field.column);
  let sql: string;
  switch (op) {
    case 'eq':
    case 'neq':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const sym = { eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' }[op];
      sql = `${col} ${sym} ${typedParam(params.add(scalarValue(field, value, where)), field.sqlType)}`;
      break;
    }
    case 'like':
    case 'ilike': {
      if (value.length > 1000) bad(`${where}: pattern too long`);
      sql = `${col} ${op === 'like' ? 'LIKE' : 'ILIKE'} ${params.add(value.replace(/\*/g, '%'))}`;
      break;
    }
    case 'in': {
      const items = parseList(value, where).map((v) => scalarValue(field, v, where));
      sql = `${col} = ANY(${typedParam(params.add(items), field.sqlType, true)})`;
      break;
    }
    case 'is': {
      const v = value.toLowerCase();
      if (v === 'null') sql = `${col} IS NULL`;
      else if (v === 'notnull') sql = `${col} IS NOT NULL`;
      else if (v === 'true' && field.kind === 'bool') sql = `${col} IS TRUE`;
      else if (v === 'false' && field.kind === 'bool') sql = `${col} IS FALSE`;
      else bad(`${where}: is.${value} is not allowed; use is.null or is.notnull${field.kind === 'bool' ? ', is.true, is.false' : ''}`);
      break;
    }
    case 'cs':
    case 'cd':
    case 'ov': {
      const v = containerValue(field, value, where);
      const sym = { cs: '@>', cd: '<@', ov: '&&' }[op];
      // json (not jsonb) has no containment operators: compare as jsonb (a no-op for jsonb).
      sql =
        field.kind === 'json'
          ? `${col}::jsonb ${sym} ${params.add(v)}::jsonb`
          : `${col} ${sym} ${typedParam(params.add(v), field.sqlType, true)}`;
      break;
    }
    default:
      bad(`${where}: unknown operator`);
  }
  return negate ? `NOT (${sql})` : sql;
}

export function fieldByKey(spec: ResourceSpec, key: string): FieldSpec | undefined {
  return spec.fields.find((f) => f.filterKey === key || f.property === key || f.column === key);
}

/** A parameter given at most once, as a string (400 otherwise). */
export function single(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) bad(`${name} may be given once`);
  if (typeof v !== 'string') bad(`${name} must be a string`);
  return v;
}

/** A page size: a whole number from 1 to the resource's maxLimit (`where` names it in errors). */
export function parseLimit(spec: ResourceSpec, raw: string, where: string): number {
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1) bad(`${where}: a whole number of at least 1`);
  const limit = Number(raw);
  if (limit > spec.maxLimit) bad(`${where}: at most ${spec.maxLimit}`);
  return limit;
}

export function parseSort(spec: ResourceSpec, raw: string | undefined): SortKey[] {
  const items = raw === undefined || raw === '' ? spec.defaultSort : raw.split(',');
  const keys: SortKey[] = [];
  for (const item of items) {
    const desc = item.startsWith('-');
    const name = item.replace(/^[-+]/, '').trim();
    const field = fieldByKey(spec, name);
    if (!field || !field.sortable) {
      const allowed = spec.fields.filter((f) => f.sortable).map((f) => f.property);
      bad(`sort: "${name}" is not a sortable field; use ${allowed.join(', ')} (prefix - for descending)`);
    }
    if (keys.some((k) => k.field === field)) bad(`sort: "${name}" appears twice`);
    keys.push({ field, desc });
  }
  // Ties are broken on the key, so pages never skip or repeat rows.
  if (spec.tieBreaker === 'key') {
    for (const k of spec.key) {
      const field = spec.fields.find((f) => f.property === k);
      if (field && !keys.some((s) => s.field === field)) keys.push({ field, desc: false });
    }
  }
  return keys;
}

interface CursorPayload {
  s: string;
  v: (string | null)[];
}

export function encodeCursor(signature: string, values: (string | null)[]): string {
  return Buffer.from(JSON.stringify({ s: signature, v: values } satisfies CursorPayload)).toString('base64url');
}

function decodeCursor(raw: string): CursorPayload {
  try {
    if (raw.length > 4096) throw new Error('too long');
    const p = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown;
    if (
      typeof p === 'object' &&
      p !== null &&
      typeof (p as CursorPayload).s === 'string' &&
      Array.isArray((p as CursorPayload).v) &&
      (p as CursorPayload).v.every((x) => x === null || typeof x === 'string')
    ) {
      return p as CursorPayload;
    }
  } catch {
    // fall through
  }
  bad('cursor: not a cursor returned by this API');
}

/** Keyset condition "after this row" for ASC NULLS LAST / DESC NULLS FIRST ordering. */
function keyset(sort: SortKey[], ctid: boolean, values: (string | null)[], params: Params): string {
  const parts: string[] = [];
  const eqs: string[] = [];
  const cols = sort.map((k) => ({ expr: ident(k.field.column), k }));
  for (let i = 0; i < cols.length + (ctid ? 1 : 0); i++) {
    const v = values[i];
    let gt: string;
    let eq: string;
    if (i === cols.length) {
      // The row's position: its table (a partition, for a partitioned table) and ctid.
      const m = v === null ? null : /^(\d{1,10}):(\(\d{1,10},\d{1,5}\))$/.exec(v);
      if (!m) bad('cursor: not a cursor returned by this API');
      const [t, c] = [params.add(m[1]), params.add(m[2])];
      gt = `(tableoid, ctid) > (${t}::oid, ${c}::tid)`;
      eq = `(tableoid, ctid) = (${t}::oid, ${c}::tid)`;
    } else {
      const { expr, k } = cols[i];
      if (v === null) {
        gt = k.desc ? `${expr} IS NOT NULL` : 'false';
        eq = `${expr} IS NULL`;
      } else {
        const p = typedParam(params.add(scalarValue(k.field, v, 'cursor')), k.field.sqlType);
        gt = k.desc ? `${expr} < ${p}` : `(${expr} > ${p} OR ${expr} IS NULL)`;
        eq = `${expr} = ${p}`;
      }
    }
    parts.push([...eqs, gt].join(' AND '));
    eqs.push(eq);
  }
  return `(${parts.map((p) => `(${p})`).join(' OR ')})`;
}

export function orderBy(plan: ListPlan): string {
  const keys = plan.rank ? [`${plan.rank} DESC`] : [];
  keys.push(...plan.sort.map((k) => `${ident(k.field.column)} ${k.desc ? 'DESC NULLS FIRST' : 'ASC NULLS LAST'}`));
  if (plan.ctid) keys.push('tableoid ASC', 'ctid ASC');
  return keys.join(', ');
}

/** Parse and check a list request into SQL pieces. */
export function planList(spec: ResourceSpec, query: Record<string, unknown>, baseWhere: string[]): ListPlan {
  const params = new Params();
  const where = [...baseWhere];
  for (const [key, value] of Object.entries(query)) {
    if ((CONTROL_PARAMS as readonly string[]).includes(key)) continue;
    const field = fieldByKey(spec, key);
    if (!field || field.ops.length === 0) {
      const allowed = spec.fields.filter((f) => f.ops.length > 0).map((f) => f.filterKey);
      bad(`"${key}" is not a filterable field; use ${allowed.join(', ')} or ${CONTROL_PARAMS.join(', ')}`);
    }
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (typeof v !== 'string') bad(`filter ${key}: must be a string`);
      where.push(condition(field, v, params));
    }
  }
  const search = query.q === undefined ? undefined : searchSql(spec, query.q, (v) => params.add(v));
  if (search) where.push(search.where);
  const countWhere = [...where];
  const countParams = [...params.values];

  const limitRaw = single(query, 'limit');
  const limit = limitRaw === undefined ? spec.defaultLimit : parseLimit(spec, limitRaw, 'limit');
  const offsetRaw = single(query, 'offset');
  let offset = 0;
  if (offsetRaw !== undefined) {
    if (!/^\d{1,9}$/.test(offsetRaw)) bad('offset: a whole number of at least 0');
    offset = Number(offsetRaw);
    // Skipping rows costs as much as reading them: deep pages go through cursors.
    if (offset > MAX_OFFSET) bad(`offset: at most ${MAX_OFFSET}; page further with cursor (meta.nextCursor)`);
  }
  const countRaw = single(query, 'count') ?? spec.defaultCount;
  if (countRaw !== 'exact' && countRaw !== 'estimated' && countRaw !== 'none') bad('count: exact, estimated or none');
  const sortRaw = single(query, 'sort');
  const sort = parseSort(spec, sortRaw);
  // An explicit sort orders a search's rows; otherwise relevance does (its parameters, if any,
  // come after the count's: the count never orders).
  const rank = search && !sortRaw ? search.rank() : undefined;
  const ctid = spec.tieBreaker === 'ctid';
  const sortSignature = sort.map((k) => `${k.desc ? '-' : ''}${k.field.property}`).join(',') + (ctid ? ',ctid' : '');

  // An empty cursor (`?cursor=`, as forms send an unset field) is no cursor.
  const cursorRaw = single(query, 'cursor') || undefined;
  if (cursorRaw !== undefined) {
    if (offsetRaw !== undefined) bad('cursor and offset cannot be combined');
    if (spec.tieBreaker === 'none') bad('cursor: this resource has no key to page on; use offset');
    if (rank) bad('cursor: rows found by q come by relevance; page them with offset (or give sort)');
    const c = decodeCursor(cursorRaw);
    if (c.s !== sortSignature) bad('cursor: it was made for another sort order');
    if (c.v.length !== sort.length + (ctid ? 1 : 0)) bad('cursor: not a cursor returned by this API');
    where.push(keyset(sort, ctid, c.v, params));
  }
  return { where, params: params.values, countWhere, countParams, sort, ctid, limit, offset, count: countRaw, sortSignature, rank };
}

export function whereClause(conds: string[]): string {
  return conds.length ? ` WHERE ${conds.join(' AND ')}` : '';
}
