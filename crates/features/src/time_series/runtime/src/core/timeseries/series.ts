import { BadRequestException, Injectable } from '@nestjs/common';

import { binder, type CrudRepository } from '../crud/repository.js';
import type { Bind } from '../crud/extension.js';
import { ident, typedParam } from '../crud/resource.js';
import { TimeSeriesRegistry } from './maintenance.js';
import type { RollupDef, SeriesColumn, SeriesDef } from './types.js';
import { parseUtc } from './time.js';
import { timeSeriesSettings } from './timeseries.settings.js';

/** Buckets start at this instant plus multiples of their width (TimescaleDB's origin). */
const ORIGIN = '2000-01-03 00:00:00+00';
const ORIGIN_MS = Date.UTC(2000, 0, 3);
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const CONTROL = new Set(['from', 'to', 'bucket', 'agg', 'field', 'metric', 'group', 'tags', 'fill', 'via']);
/** Dimensions named like a parameter above are grouped on, not filtered by a parameter of their name. */

type Plain = 'avg' | 'min' | 'max' | 'sum' | 'count';
type Agg = Plain | { p: number; name: string };

export interface SeriesPoint {
  time: string;
  [aggregate: string]: number | string | null;
}

export interface SeriesResult {
  data: { group: Record<string, unknown>; points: SeriesPoint[] }[];
  meta: {
    from: string;
    to: string;
    bucket: string;
    bucketSeconds: number;
    field: string;
    aggregates: string[];
    group: string[];
    fill: string;
    source: 'raw' | 'rollup';
    rollup?: string;
  };
}

function list(v: unknown): string[] {
  if (v === undefined) return [];
  const items = Array.isArray(v) ? v : [v];
  return items
    .flatMap((x) => String(x).split(','))
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

function one(name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new BadRequestException(`${name}: give it once`);
  return String(v);
}

function instant(name: string, v: string): number {
  const ms = /^\d{10,15}$/.test(v) ? Number(v) : parseUtc(v);
  if (ms === undefined || !Number.isFinite(ms) || !/^\d{10,15}$|^\d{4}-\d{2}-\d{2}/.test(v)) {
    throw new BadRequestException(`${name}: an ISO 8601 time or milliseconds since 1970`);
  }
  return ms;
}

function duration(v: string): number {
  const m = /^(\d{1,9})(ms|s|m|h|d|w)$/.exec(v.trim());
  if (!m) throw new BadRequestException('bucket: a duration such as 30s, 5m, 1h, 1d or 1w');
  return Number(m[1]) * UNIT_MS[m[2]];
}

function aggName(a: Agg): string {
  return typeof a === 'string' ? a : a.name;
}

/**
 * Bucketed queries of a time series: `time_bucket` where the table is a TimescaleDB hypertable,
 * `date_bin` (same buckets, same origin) elsewhere; aggregates of one value column per bucket and
 * group; the caller's row scope (tenant, own rows) applied as on every route. A rollup answers
 * instead of the raw rows when it holds the same answer: the bucket is a multiple of its bucket,
 * the range starts and ends on its buckets, the aggregates can be combined from it (not
 * percentiles), every filter and group is one of its columns, and it is materialized and up to
 * date for the range.
 */
@Injectable()
export class TimeSeriesService {
  private readonly maxBuckets = timeSeriesSettings().maxBuckets;
  private readonly maxRangeMs = timeSeriesSettings().maxRangeMs;
  private readonly maxPoints = timeSeriesSettings().maxPoints;

  constructor(private readonly registry: TimeSeriesRegistry) {}

  async series(def: SeriesDef, repo: CrudRepository, query: Record<string, unknown>): Promise<SeriesResult> {
    const byProperty = new Map(def.dimensions.map((d) => [d.property, d]));
    for (const k of Object.keys(query)) {
      if (!CONTROL.has(k) && !byProperty.has(k)) {
        throw new BadRequestException(`unknown parameter ${k} (filters: ${def.dimensions.map((d) => d.property).join(', ') || 'none'})`);
      }
    }
    const to = query.to === undefined ? Date.now() : instant('to', one('to', query.to)!);
    const from = query.from === undefined ? to - 86_400_000 : instant('from', one('from', query.from)!);
    if (!(to > from)) throw new BadRequestException('to must be after from');
    if (to - from > this.maxRangeMs)
      throw new BadRequestException(`the range is longer than ${this.maxRangeMs / 1000} seconds (TS_MAX_RANGE_SECONDS)`);
    const bucketText = one('bucket', query.bucket) ?? '1h';
    const bucketMs = duration(bucketText);
    if (bucketMs < 1000 || bucketMs % 1000 !== 0) throw new BadRequestException('bucket: whole seconds, at least 1s');
    const first = Math.floor((from - ORIGIN_MS) / bucketMs) * bucketMs + ORIGIN_MS;
    const buckets = Math.ceil((to - first) / bucketMs);
    if (buckets > this.maxBuckets)
      throw new BadRequestException(
        `${buckets} buckets: at most ${this.maxBuckets} (TS_MAX_BUCKETS); widen the bucket or narrow the range`,
      );
    const aggNames = [...new Set(list(query.agg))];
    if (aggNames.length > 16) throw new BadRequestException('agg: at most 16 aggregates');
    const aggs: Agg[] = aggNames.map((a) => {
      if (['avg', 'min', 'max', 'sum', 'count'].includes(a)) return a as Plain;
      const m = /^p(\d{1,2}(\.\d{1,3})?)$/.exec(a);
      if (m && Number(m[1]) > 0) return { p: Number(m[1]) / 100, name: a };
      throw new BadRequestException(`agg: avg, min, max, sum, count or a percentile such as p95 (got ${a})`);
    });
    if (aggs.length === 0) aggs.push('avg');
    const fieldName = one('field', query.field) ?? def.values[0].property;
    const value = def.values.find((v) => v.property === fieldName);
    if (!value) throw new BadRequestException(`field: one of ${def.values.map((v) => v.property).join(', ')}`);
    const groups: SeriesColumn[] = list(query.group).map((g) => {
      const d = byProperty.get(g);
      if (!d)
        throw new BadRequestException(
          `group: one of ${def.dimensions.map((x) => x.property).join(', ') || 'nothing (this series has no dimensions)'}`,
        );
      return d;
    });
    const fill = one('fill', query.fill) ?? 'none';
    if (!['none', 'null', 'zero', 'previous'].includes(fill)) throw new BadRequestException('fill: none, null, zero or previous');
    const source = one('via', query.via) ?? 'auto';
    if (!['auto', 'raw', 'rollup'].includes(source)) throw new BadRequestException('via: auto, raw or rollup');
    const metrics = list(query.metric);
    if (metrics.length && !def.metric) throw new BadRequestException('metric: this series has no name column');
    let tags: string | undefined;
    const tagsText = one('tags', query.tags);
    if (tagsText !== undefined) {
      if (!def.tags) throw new BadRequestException('tags: this series has no tags column');
      try {
        const t: unknown = JSON.parse(tagsText);
        if (t === null || typeof t !== 'object' || Array.isArray(t)) throw new Error();
        tags = JSON.stringify(t);
      } catch {
        throw new BadRequestException('tags: a JSON object, e.g. {"env":"prod"} (rows whose tags contain it)');
      }
    }
    const filters: [SeriesColumn, string[]][] = [];
    for (const [k, v] of Object.entries(query)) {
      const d = CONTROL.has(k) ? undefined : byProperty.get(k);
      if (d) filters.push([d, list(v)]);
    }
    if (metrics.length && def.metric) filters.push([def.metric, metrics]);
    const settings = await this.registry.settings(def);
    const spec = repo.spec;
    const sqlType = (c: SeriesColumn) => spec.fields.find((f) => ident(f.column) === c.column)?.sqlType ?? 'text';

    const wanted = { bucketMs, from, to, aggs, value, groups, filters, tags };
    const rollup = source === 'raw' ? undefined : this.rollupFor(def, wanted);
    if (source === 'rollup' && !rollup?.def) throw new BadRequestException(`via=rollup: ${rollup?.why}`);

    return repo.withScope(async (q, scope) => {
      let use: RollupDef | undefined;
      if (rollup?.def) {
        const covers = await q.query('SELECT nestgen.ts_rollup_covers($1, $2, $3) AS ok', [rollup.def.name, new Date(from), new Date(to)]);
        if ((covers.rows[0] as { ok: boolean }).ok) use = rollup.def;
        else if (source === 'rollup') throw new BadRequestException('via=rollup: the rollup is not up to date for this range yet');
      }
      const params: unknown[] = [];
      const bind = binder(params);
      const sql = use
        ? this.rollupSql(use, wanted, bind, scope.where(bind, 'read'), sqlType)
        : this.rawSql(def, settings.storage === 'timescaledb', wanted, bind, scope.where(bind, 'read'), sqlType);
      const r = await q.query(`${sql} LIMIT ${this.maxPoints + 1}`, params);
      const tooMany = `more than ${this.maxPoints} points (TS_MAX_POINTS): narrow the range, widen the bucket or group by fewer columns`;
      if (r.rows.length > this.maxPoints) throw new BadRequestException(tooMany);
      if (fill !== 'none') {
        // Every group gets every bucket: count them before making them.
        const groupsSeen = new Set((r.rows as Record<string, unknown>[]).map((x) => JSON.stringify(groups.map((_, i) => x[`__g${i}`]))));
        if (Math.max(1, groupsSeen.size) * buckets > this.maxPoints) throw new BadRequestException(tooMany);
      }
      return this.shape(
        r.rows as Record<string, unknown>[],
        { ...wanted, first, fill, buckets },
        {
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
          bucket: bucketText,
          bucketSeconds: bucketMs / 1000,
          field: value.property,
          aggregates: aggs.map(aggName),
          group: groups.map((g) => g.property),
          fill,
          source: use ? 'rollup' : 'raw',
          ...(use ? { rollup: use.name } : {}),
        },
      );
    });
  }

  /** The rollup that can answer, or why none can. */
  private rollupFor(
    def: SeriesDef,
    w: {
      bucketMs: number;
      from: number;
      to: number;
      aggs: Agg[];
      value: SeriesColumn;
      groups: SeriesColumn[];
      filters: [SeriesColumn, string[]][];
      tags?: string;
    },
  ): { def?: RollupDef; why: string } {
    let why = 'this series has no rollup';
    for (const r of def.rollups) {
      const b = r.bucketSeconds * 1000;
      const v = r.values.find((x) => x.source === w.value.column);
      const aligned = (ms: number) => (ms - ORIGIN_MS) % b === 0;
      if (!r.queried) why = `${r.name} does not hold the caller's scope column`;
      else if (w.bucketMs % b !== 0) why = `the bucket is not a multiple of ${r.name}'s (${r.bucketSeconds} s)`;
      else if (!aligned(w.from) || !aligned(w.to)) why = `from and to must fall on ${r.name}'s bucket boundaries`;
      else if (!v) why = `${r.name} holds no aggregate of ${w.value.property}`;
      else if (!w.aggs.every((a) => typeof a === 'string' && this.derivable(a, v)))
        why = `${r.name} cannot give ${w.aggs.map(aggName).join(', ')}`;
      else if (![...w.groups, ...w.filters.map(([c]) => c)].every((c) => r.groups[c.column] !== undefined))
        why = `${r.name} is not grouped by every column asked for`;
      else if (w.tags !== undefined) why = `${r.name} has no tags`;
      else return { def: r, why: '' };
    }
    return { why };
  }

  private derivable(a: Plain, v: RollupDef['values'][number]): boolean {
    switch (a) {
      case 'avg':
        return (v.avg !== undefined || v.sum !== undefined) && v.count !== undefined;
      case 'min':
        return v.min !== undefined;
      case 'max':
        return v.max !== undefined;
      case 'count':
        return v.count !== undefined;
      case 'sum':
        return v.sum !== undefined || (v.avg !== undefined && v.count !== undefined);
    }
  }

  private where(
    time: string,
    naive: boolean,
    w: { from: number; to: number; filters: [SeriesColumn, string[]][]; tags?: string },
    bind: Bind,
    scope: string[],
    sqlType: (c: SeriesColumn) => string,
    column: (c: SeriesColumn) => string,
    tagsColumn?: string,
  ): string {
    const t = naive ? 'timestamp without time zone' : 'timestamptz';
    const conds = [`${time} >= ${bind(new Date(w.from).toISOString(), t)}`, `${time} < ${bind(new Date(w.to).toISOString(), t)}`];
    for (const [c, values] of w.filters) conds.push(`${column(c)} = ANY(${typedParam(bind(values), sqlType(c), true)})`);
    if (w.tags !== undefined && tagsColumn) conds.push(`${tagsColumn} @> ${bind(w.tags, 'jsonb')}`);
    return [...conds, ...scope].join(' AND ');
  }

  private rawSql(
    def: SeriesDef,
    timescale: boolean,
    w: {
      bucketMs: number;
      from: number;
      to: number;
      aggs: Agg[];
      value: SeriesColumn;
      groups: SeriesColumn[];
      filters: [SeriesColumn, string[]][];
      tags?: string;
    },
    bind: Bind,
    scope: string[],
    sqlType: (c: SeriesColumn) => string,
  ): string {
    const interval = bind(`${w.bucketMs / 1000} seconds`, 'interval');
    const time = def.time.column;
    const bucket = timescale ? `time_bucket(${interval}, ${time})` : `date_bin(${interval}, ${time}, '${ORIGIN}')`;
    const v = w.value.column;
    const aggs = w.aggs.map((a, i) => {
      const alias = `"__a${i}"`;
      if (typeof a !== 'string') return `(percentile_cont(${bind(a.p, 'float8')}) WITHIN GROUP (ORDER BY ${v}))::float8 AS ${alias}`;
      return a === 'count' ? `count(${v}) AS ${alias}` : `${a}(${v})::float8 AS ${alias}`;
    });
    const groups = w.groups.map((g, i) => `${g.column} AS "__g${i}"`);
    const where = this.where(time, def.naiveTime, w, bind, scope, sqlType, (c) => c.column, def.tags?.column);
    const by = ['1', ...w.groups.map((_, i) => String(i + 2))];
    const order = [...w.groups.map((_, i) => String(i + 2)), '1'];
    return `SELECT ${[`${bucket} AS "__t"`, ...groups, ...aggs].join(', ')} FROM ${def.table} WHERE ${where} GROUP BY ${by.join(', ')} ORDER BY ${order.join(', ')}`;
  }

  private rollupSql(
    r: RollupDef,
    w: {
      bucketMs: number;
      from: number;
      to: number;
      aggs: Agg[];
      value: SeriesColumn;
      groups: SeriesColumn[];
      filters: [SeriesColumn, string[]][];
      tags?: string;
    },
    bind: Bind,
    scope: string[],
    sqlType: (c: SeriesColumn) => string,
  ): string {
    const v = r.values.find((x) => x.source === w.value.column)!;
    const interval = bind(`${w.bucketMs / 1000} seconds`, 'interval');
    const bucket = `date_bin(${interval}, ${r.bucket}, '${ORIGIN}')`;
    const count = v.count!;
    const sum = v.sum ? `sum(${v.sum})` : `sum(${v.avg} * ${count})`;
    const aggs = w.aggs.map((a, i) => {
      const alias = `"__a${i}"`;
      switch (a) {
        case 'avg':
          return `(${v.sum ? `sum(${v.sum})` : `sum(${v.avg} * ${count})`} / nullif(sum(${count}), 0))::float8 AS ${alias}`;
        case 'min':
          return `min(${v.min})::float8 AS ${alias}`;
        case 'max':
          return `max(${v.max})::float8 AS ${alias}`;
        case 'sum':
          return `${sum}::float8 AS ${alias}`;
        default:
          return `sum(${count})::bigint AS ${alias}`;
      }
    });
    const groups = w.groups.map((g, i) => `${r.groups[g.column]} AS "__g${i}"`);
    const where = this.where(r.bucket, false, w, bind, scope, sqlType, (c) => r.groups[c.column]);
    const by = ['1', ...w.groups.map((_, i) => String(i + 2))];
    const order = [...w.groups.map((_, i) => String(i + 2)), '1'];
    return `SELECT ${[`${bucket} AS "__t"`, ...groups, ...aggs].join(', ')} FROM ${r.table} WHERE ${where} GROUP BY ${by.join(', ')} ORDER BY ${order.join(', ')}`;
  }

  /** Rows → one series per group, points in bucket order; empty buckets filled when asked. */
  private shape(
    rows: Record<string, unknown>[],
    w: { aggs: Agg[]; groups: SeriesColumn[]; first: number; bucketMs: number; buckets: number; fill: string },
    meta: SeriesResult['meta'],
  ): SeriesResult {
    const names = w.aggs.map(aggName);
    const series = new Map<string, { group: Record<string, unknown>; points: SeriesPoint[] }>();
    for (const row of rows) {
      const group: Record<string, unknown> = {};
      w.groups.forEach((g, i) => (group[g.property] = row[`__g${i}`]));
      const key = JSON.stringify(w.groups.map((_, i) => row[`__g${i}`]));
      let s = series.get(key);
      if (!s) {
        s = { group, points: [] };
        series.set(key, s);
      }
      const point: SeriesPoint = { time: new Date(row.__t as string | Date).toISOString() };
      names.forEach((n, i) => {
        const x = row[`__a${i}`];
        point[n] = x === null || x === undefined ? null : typeof x === 'number' ? x : Number(x);
      });
      s.points.push(point);
    }
    if (w.fill !== 'none') {
      if (series.size === 0 && w.groups.length === 0) series.set('[]', { group: {}, points: [] });
      for (const s of series.values()) {
        const at = new Map(s.points.map((p) => [p.time, p]));
        const filled: SeriesPoint[] = [];
        let previous: SeriesPoint | undefined;
        for (let i = 0; i < w.buckets; i++) {
          const time = new Date(w.first + i * w.bucketMs).toISOString();
          const p = at.get(time);
          if (p) {
            filled.push(p);
            previous = p;
            continue;
          }
          const gap: SeriesPoint = { time };
          for (const n of names) {
            gap[n] = n === 'count' ? 0 : w.fill === 'zero' ? 0 : w.fill === 'previous' ? (previous?.[n] ?? null) : null;
          }
          filled.push(gap);
        }
        s.points = filled;
      }
    }
    return { data: [...series.values()], meta };
  }
}
