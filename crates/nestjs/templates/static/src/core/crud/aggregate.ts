import type { Bind } from './extension.js';
import { CONTROL_PARAMS, bad, fieldByKey, single } from './query.js';
import { type FieldKind, type FieldSpec, type ResourceSpec, ident } from './resource.js';

/**
 * `GET /<table>/aggregate`: counts, sums, averages, minima and maxima over the rows a list with
 * the same filters would return, optionally per group and per time bucket:
 *   ?group=status&agg=count,sum(amount),avg(amount)        one row per status
 *   ?bucket=createdAt:month&tz=Europe/Paris&agg=count      one row per month in that zone
 *   &status=eq.paid&sort=-count&limit=10                  the list's filters; order; top n
 * Answers: `{ data: [{ group: { status }, count, sum: { amount }, avg: { amount } }], meta: { limit, more } }`.
 * Only fields the API returns can be grouped or aggregated (secrets and write-only fields never):
 * the answer is what a client could compute from the rows it may read. Numbers keep the API's
 * formats (bigint and numeric results as strings, counts and float results as numbers).
 */
export type AggFn = 'count' | 'sum' | 'avg' | 'min' | 'max';

export interface Aggregate {
  fn: AggFn;
  /** No field: count(*), the rows. */
  field?: FieldSpec;
  /** As the client wrote it (`sum(amount)`), for `sort=`. */
  label: string;
}

export type BucketUnit = 'minute' | 'hour' | 'day' | 'week' | 'month' | 'quarter' | 'year';
export const BUCKET_UNITS: readonly BucketUnit[] = ['minute', 'hour', 'day', 'week', 'month', 'quarter', 'year'];

export interface AggregatePlan {
  group: FieldSpec[];
  bucket?: { field: FieldSpec; unit: BucketUnit; tz: string };
  aggs: Aggregate[];
  /** ORDER BY items: a group position or an aggregate, and its direction. */
  sort: { expr: string; desc: boolean }[];
  limit: number;
  /** The query's filters and search (`q`), without the aggregate's and the list's other parameters. */
  filters: Record<string, unknown>;
}

export const AGGREGATE_PARAMS = ['group', 'agg', 'bucket', 'tz', 'sort', 'limit'] as const;
export const MAX_GROUPS = 10000;
export const DEFAULT_GROUPS = 1000;
const MAX_GROUP_FIELDS = 5;
const MAX_AGGS = 20;

const NUMERIC: readonly FieldKind[] = ['int', 'bigint', 'decimal', 'float', 'interval'];
const ORDERED: readonly FieldKind[] = [...NUMERIC, 'date', 'timestamp', 'time', 'text', 'enum'];

/** Which aggregates a field takes (arrays and documents none but count). */
export function aggregatesOf(f: FieldSpec): AggFn[] {
  if (!f.readable) return [];
  if (f.array || f.kind === 'json' || f.kind === 'bytes' || f.kind === 'other') return ['count'];
  // money sums (to money text, as its fields read) but has no average.
  const sums: AggFn[] = f.sqlType === 'money' ? ['sum'] : ['sum', 'avg'];
  return ['count', ...(NUMERIC.includes(f.kind) ? sums : []), ...(ORDERED.includes(f.kind) ? (['min', 'max'] as const) : [])];
}

/** Fields a client may group on: readable scalars that sort. */
export function groupable(f: FieldSpec): boolean {
  return f.readable && f.sortable && !f.array && f.kind !== 'json' && f.kind !== 'bytes';
}

/** Fields that take `bucket=`: dates and timestamps. */
export function bucketable(f: FieldSpec): boolean {
  return groupable(f) && (f.kind === 'date' || f.kind === 'timestamp');
}

function list(raw: string, where: string): string[] {
  const items = raw.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) bad(`${where}: an empty item`);
  return items;
}

/** A time zone PostgreSQL and Node both know by name (`Europe/Paris`, `UTC`). */
function timeZone(raw: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(raw)) bad(`tz: "${raw}" is not a time zone name (e.g. Europe/Paris, UTC)`);
  try {
    new Intl.DateTimeFormat('en', { timeZone: raw });
  } catch {
    bad(`tz: "${raw}" is not a known time zone (e.g. Europe/Paris, UTC)`);
  }
  return raw;
}

function readableField(spec: ResourceSpec, name: string, where: string): FieldSpec {
  const f = fieldByKey(spec, name);
  if (!f || !f.readable) {
    bad(
      `${where}: "${name}" is not a field of ${spec.name}; use ${spec.fields
        .filter((x) => x.readable)
        .map((x) => x.property)
        .join(', ')}`,
    );
  }
  return f;
}

/** Parse and check an aggregate request. */
export function planAggregate(spec: ResourceSpec, query: Record<string, unknown>): AggregatePlan {
  const group: FieldSpec[] = [];
  const groupRaw = single(query, 'group');
  if (groupRaw) {
    for (const name of list(groupRaw, 'group')) {
      const f = readableField(spec, name, 'group');
      if (!groupable(f)) bad(`group: ${f.property} cannot be grouped on (${f.array ? 'an array' : f.kind})`);
      if (group.includes(f)) bad(`group: ${f.property} appears twice`);
      group.push(f);
    }
    if (group.length > MAX_GROUP_FIELDS) bad(`group: at most ${MAX_GROUP_FIELDS} fields`);
  }

  let bucket: AggregatePlan['bucket'];
  const bucketRaw = single(query, 'bucket');
  const tzRaw = single(query, 'tz');
  if (bucketRaw) {
    const m = /^([^:]+):([a-z]+)$/.exec(bucketRaw);
    if (!m) bad(`bucket: write field:unit, e.g. createdAt:day (units: ${BUCKET_UNITS.join(', ')})`);
    const f = readableField(spec, m[1], 'bucket');
    if (!bucketable(f)) bad(`bucket: ${f.property} is not a date or timestamp`);
    if (group.includes(f)) bad(`bucket: ${f.property} is also in group`);
    const unit = m[2] as BucketUnit;
    if (!BUCKET_UNITS.includes(unit)) bad(`bucket: "${m[2]}" is not a unit; use ${BUCKET_UNITS.join(', ')}`);
    if (f.kind === 'date' && (unit === 'minute' || unit === 'hour')) bad(`bucket: ${f.property} is a date; use day or longer`);
    // tz is taken for a date too (and changes nothing: its days are the same in every zone).
    bucket = { field: f, unit, tz: tzRaw === undefined ? 'UTC' : timeZone(tzRaw) };
  } else if (tzRaw !== undefined) {
    bad('tz: only with bucket=field:unit');
  }

  const aggs: Aggregate[] = [];
  for (const item of list(single(query, 'agg') ?? 'count', 'agg')) {
    const m = /^(count|sum|avg|min|max)(?:\(([^()]+)\))?$/.exec(item);
    if (!m) bad(`agg: "${item}" is not an aggregate; write count, count(field), sum(field), avg(field), min(field) or max(field)`);
    const fn = m[1] as AggFn;
    if (m[2] === undefined) {
      if (fn !== 'count') bad(`agg: ${fn} needs a field, e.g. ${fn}(amount)`);
      if (aggs.some((a) => a.label === 'count')) bad('agg: count appears twice');
      aggs.push({ fn, label: 'count' });
      continue;
    }
    const f = readableField(spec, m[2].trim(), `agg ${item}`);
    if (!aggregatesOf(f).includes(fn)) {
      const type = f.array ? 'an array' : f.sqlType === 'money' ? 'money' : f.kind;
      bad(`agg: ${fn}(${f.property}) is not defined for ${type}; it takes ${aggregatesOf(f).join(', ')}`);
    }
    const label = `${fn}(${f.property})`;
    if (aggs.some((a) => a.label === label)) bad(`agg: ${label} appears twice`);
    aggs.push({ fn, field: f, label });
  }
  if (aggs.length > MAX_AGGS) bad(`agg: at most ${MAX_AGGS} aggregates`);

  const keys = [...group, ...(bucket ? [bucket.field] : [])];
  const sort: AggregatePlan['sort'] = [];
  const sortRaw = single(query, 'sort');
  if (sortRaw) {
    for (const item of list(sortRaw, 'sort')) {
      const desc = item.startsWith('-');
      const name = item.replace(/^[-+]/, '');
      const k = keys.findIndex((f) => f.property === name);
      const a = aggs.findIndex((x) => x.label === name);
      if (k < 0 && a < 0) {
        bad(
          `sort: "${name}" is neither grouped on nor aggregated; use ${[...keys.map((f) => f.property), ...aggs.map((x) => x.label)].join(', ')}`,
        );
      }
      const expr = k >= 0 ? `"g${k}"` : `"a${a}"`;
      if (sort.some((s) => s.expr === expr)) bad(`sort: "${name}" appears twice`);
      sort.push({ expr, desc });
    }
  }
  // Groups always come back in one order: the rest by the group keys.
  keys.forEach((_, i) => {
    if (!sort.some((s) => s.expr === `"g${i}"`)) sort.push({ expr: `"g${i}"`, desc: false });
  });

  const limitRaw = single(query, 'limit');
  let limit = DEFAULT_GROUPS;
  if (limitRaw !== undefined) {
    if (!/^\d{1,6}$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > MAX_GROUPS) bad(`limit: 1 to ${MAX_GROUPS} groups`);
    limit = Number(limitRaw);
  }
  for (const p of ['offset', 'cursor', 'count', 'select'] as const) {
    if (query[p] !== undefined) bad(`${p}: not taken by aggregates (they take group, agg, bucket, tz, sort, limit and the list's filters)`);
  }
  const filters = Object.fromEntries(
    Object.entries(query).filter(
      ([k]) => k === 'q' || (!(AGGREGATE_PARAMS as readonly string[]).includes(k) && !(CONTROL_PARAMS as readonly string[]).includes(k)),
    ),
  );
  return { group, bucket, aggs, sort, limit, filters };
}

/** A field's column as the statement reads it (`__root` names the row). */
function column(f: FieldSpec): string {
  return `__root.${ident(f.column)}`;
}

/** SQL of one aggregate, cast so its value has the API's format for its kind. */
function aggregateSql(a: Aggregate): string {
  if (!a.field) return 'count(*)::float8';
  const col = column(a.field);
  switch (a.fn) {
    case 'count':
      return `count(${col})::float8`;
    case 'sum':
      // Integers sum to bigint/numeric (strings in answers, as bigint and decimal fields are);
      // real and double precision in double precision (a sum of reals in real drifts).
      return a.field.kind === 'float' ? `sum(${col}::float8)` : `sum(${col})`;
    case 'avg':
      return a.field.kind === 'float' ? `avg(${col}::float8)` : `avg(${col})`;
    case 'min':
    case 'max':
      return `${a.fn}(${col})`;
  }
}

/**
 * The bucket of a date or timestamp: its start, in `tz` for timestamps (a timestamp without
 * time zone holds UTC, see typedParam), the date itself for dates.
 */
function bucketSql(b: NonNullable<AggregatePlan['bucket']>, bind: Bind): string {
  const col = column(b.field);
  const unit = bind(b.unit);
  if (b.field.kind === 'date') return `date_trunc(${unit}, ${col}::timestamp)::date`;
  // A timestamp without time zone holds UTC (a domain over one is cast by the session's zone,
  // UTC): its buckets start in the zone asked for and come back as its values do, in UTC.
  if (b.field.sqlType === 'timestamp without time zone') {
    return `(date_trunc(${unit}, ${col} AT TIME ZONE 'UTC', ${bind(b.tz)}) AT TIME ZONE 'UTC')`;
  }
  return `date_trunc(${unit}, ${col}, ${bind(b.tz)})`;
}

/** The statement of an aggregate over `where` (conditions on `__root`). */
export function aggregateStatement(spec: ResourceSpec, plan: AggregatePlan, where: string[], bind: Bind): string {
  const keys = plan.group.map((f) => column(f));
  if (plan.bucket) keys.push(bucketSql(plan.bucket, bind));
  const items = [...keys.map((k, i) => `${k} AS "g${i}"`), ...plan.aggs.map((a, i) => `${aggregateSql(a)} AS "a${i}"`)];
  const order = plan.sort.map((s) => `${s.expr} ${s.desc ? 'DESC NULLS FIRST' : 'ASC NULLS LAST'}`);
  return (
    `SELECT ${items.join(', ')} FROM ${spec.table} AS __root` +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    (keys.length ? ` GROUP BY ${keys.map((_, i) => i + 1).join(', ')}` : '') +
    (order.length ? ` ORDER BY ${order.join(', ')}` : '') +
    ` LIMIT ${bind(plan.limit + 1)}`
  );
}

export type AggregateRow = Record<string, unknown>;

/**
 * A result row as the answer has it: `group: { status, createdAt }` (when grouped; a bucket is
 * its start), `count`, and per function `sum: { amount }`... Group keys have an object of their
 * own, so a column named `count` or `sum` never meets an aggregate.
 */
export function aggregateRow(plan: AggregatePlan, row: Record<string, unknown>): AggregateRow {
  const out: AggregateRow = {};
  if (plan.group.length || plan.bucket) {
    const group: Record<string, unknown> = {};
    plan.group.forEach((f, i) => (group[f.property] = row[`g${i}`]));
    if (plan.bucket) group[plan.bucket.field.property] = row[`g${plan.group.length}`];
    out.group = group;
  }
  plan.aggs.forEach((a, i) => {
    const v = row[`a${i}`];
    if (!a.field) {
      out.count = v;
      return;
    }
    const key = a.fn === 'count' ? 'counts' : a.fn;
    const into = (out[key] ??= {}) as Record<string, unknown>;
    into[a.field.property] = v;
  });
  return out;
}
