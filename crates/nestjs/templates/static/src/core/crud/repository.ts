import { BadRequestException, ForbiddenException, NotFoundException, PayloadTooLargeException, type StreamableFile } from '@nestjs/common';
import { MAX_BULK } from './bulk.pipe.js';
import { type DatabaseService, type Queryable, afterCommit } from '../database/database.service.js';
import { PreconditionFailedException, etagOf, names, preconditionFor, takePrecondition } from '../http/precondition.js';
import { requestContext } from '../http/request-context.js';
import { type CountMode, encodeCursor, orderBy, planList, whereClause } from './query.js';
import type { Bind, CallScope, ChangeOp, CrudCall, RowChange } from './extension.js';
import { type AggregateRow, aggregateRow, aggregateStatement, planAggregate } from './aggregate.js';
import { EXPORT_PARAMS, type ExportColumn, exportBom, exportFormat, runExport } from './export.js';
import { type Conditions, EmbedSql, type Selection, checkEmbeds, parseSelect } from './select.js';
import { type FieldSpec, type ResourceSpec, ident, typedParam, writeCast } from './resource.js';

export type Row = Record<string, unknown>;
export type KeyValues = Record<string, string>;

export interface ListMeta {
  limit: number;
  offset?: number;
  count?: number;
  countMode: CountMode;
  nextCursor?: string;
}

export interface ListResult<T> {
  data: T[];
  meta: ListMeta;
}

/** Rows a repository created (after its transaction). */
export interface CreatedRows {
  /** The spec's quoted table name. */
  table: string;
  rows: Row[];
}

type CreatedListener = (event: CreatedRows) => void | Promise<void>;
const createdListeners = new Map<string, CreatedListener[]>();

/**
 * Be told about rows created through the API in `table` (a spec's quoted table name), once they
 * are written. Listeners run after the response is decided; their failures are logged, never
 * thrown at the caller.
 */
export function onCreated(table: string, listener: CreatedListener): void {
  createdListeners.set(table, [...(createdListeners.get(table) ?? []), listener]);
}

function emitCreated(table: string, rows: Row[]): void {
  for (const l of createdListeners.get(table) ?? []) {
    Promise.resolve()
      .then(() => l({ table, rows }))
      .catch((e: unknown) => console.error(`listener on ${table} failed: ${e instanceof Error ? e.message : String(e)}`));
  }
}

/** A `Bind` that adds parameters to `params`. */
export function binder(params: unknown[]): Bind {
  return (value, cast) => {
    params.push(value);
    return cast ? typedParam(`$${params.length}`, cast) : `$${params.length}`;
  };
}

/** A field in a SELECT list: its column (cast for reading when it needs it) as its property. */
function selected(f: FieldSpec): string {
  return `${ident(f.column)}${f.readCast ? `::${f.readCast}` : ''} AS ${ident(f.property)}`;
}

/** What one repository call runs with: its extensions' conditions, insert values and recorders. */
interface Scope {
  /** WHERE conditions of the call's extensions (`mode`: the statement reads or changes rows). */
  where(bind: Bind, mode?: 'read' | 'write', row?: string): string[];
  /** Columns the server sets on insert, by column name. */
  insert: [string, unknown][];
  /** Some extension records changed rows: read their old and new values for it. */
  capturing: boolean;
  /** Tell the recording extensions about changed rows. */
  record(q: Queryable, changes: RowChange[]): Promise<void>;
}

/**
 * SQL for one resource, built from its spec: identifiers from the spec (quoted), values as
 * parameters. Generated repositories extend this with their spec.
 *
 * The spec's extensions (row scopes, change recording) take part in every call: their settings
 * are set for row-level security in a transaction around the call (`set_config(name, value,
 * true)`, i.e. SET LOCAL: nothing survives on the pooled connection), their conditions are added
 * to every statement, their columns to every insert, and they are told every changed row.
 */
export class CrudRepository<T extends Row = Row> {
  private readonly selectList: string;
  private readonly readable: FieldSpec[];
  private readonly byProperty: Map<string, FieldSpec>;

  constructor(
    protected readonly db: DatabaseService,
    readonly spec: ResourceSpec,
  ) {
    this.readable = spec.fields.filter((f) => f.readable);
    this.selectList = this.readable.map(selected).join(', ') || '1 AS "_"';
    this.byProperty = new Map(spec.fields.map((f) => [f.property, f]));
  }

  private field(property: string): FieldSpec {
    const f = this.byProperty.get(property);
    if (!f) throw new Error(`unknown property ${property}`);
    return f;
  }

  private notDeleted(): string[] {
    return this.spec.softDeleteColumn ? [`${ident(this.spec.softDeleteColumn)} IS NULL`] : [];
  }

  /**
   * Run `fn` with the spec's extensions: inside a transaction that first sets their settings,
   * when any has one (or records changes); otherwise as it is. `fn` gets the call's scope: the
   * WHERE conditions to add, the columns to insert, whether changed rows are recorded.
   * `unscoped`: a change the server makes on its own behalf (sign-in flows), not limited to the
   * caller's own rows.
   */
  private async scoped<R>(
    db: Queryable,
    fn: (db: Queryable, scope: Scope) => Promise<R>,
    op?: ChangeOp,
    opts: { unscoped?: boolean } = {},
  ): Promise<R> {
    const result = await this.inScope(db, this.open(op, opts), fn);
    if (op) await this.changed(db);
    return result;
  }

  /** The call's scope and the settings its statements run under (nothing is run yet). */
  private open(op?: ChangeOp, opts: { unscoped?: boolean } = {}): { scope: Scope; settings: Map<string, string> } {
    const call: CrudCall = { ctx: requestContext(), op, unscoped: opts.unscoped === true };
    const parts: CallScope[] = [];
    for (const e of this.spec.extensions ?? []) {
      const part = e.begin(call);
      if (part) parts.push(part);
    }
    const recorders = op ? parts.filter((p) => p.record) : [];
    const scope: Scope = {
      where: (bind, mode = 'write', row = this.spec.table) => this.conditions(parts, bind, mode, row),
      insert: parts.flatMap((p) => Object.entries(p.insert ?? {})),
      capturing: recorders.length > 0,
      record: async (q, changes) => {
        if (!op || changes.length === 0) return;
        for (const r of recorders) await r.record!(q, op, changes);
      },
    };
    const settings = new Map<string, string>();
    for (const p of parts) for (const [name, value] of p.settings ?? []) settings.set(name, value);
    return { scope, settings };
  }

  /** Run `fn` under an opened call: in a transaction that first sets its settings, when it has any (or records changes). */
  private async inScope<R>(
    db: Queryable,
    opened: { scope: Scope; settings: Map<string, string> },
    fn: (db: Queryable, scope: Scope) => Promise<R>,
  ): Promise<R> {
    const { scope, settings } = opened;
    if (settings.size === 0 && !scope.capturing) return fn(db, scope);
    const run = async (tx: Queryable) => {
      if (settings.size) {
        const params = [...settings].flat();
        const sets = [...settings.keys()].map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`);
        await tx.query(`SELECT ${sets.join(', ')}`, params);
      }
      return fn(tx, scope);
    };
    return db === this.db ? this.db.transaction(run) : run(db);
  }

  /**
   * A read through the extensions that answer reads (a cache), when it runs outside any
   * transaction: `key` is the statements, their parameters and settings; `load` runs them.
   * Inside a transaction a read sees that transaction's own changes, so it always runs; so does
   * a read that is not `cacheable` (its answer holds other tables' rows: select= embeds).
   */
  private read<R>(db: Queryable, keyOf: () => readonly unknown[], load: () => Promise<R>, cacheable = true): Promise<R> {
    const readers = cacheable && db === this.db ? (this.spec.extensions ?? []).filter((e) => e.read) : [];
    if (readers.length === 0) return load();
    const key = keyOf();
    return readers.reduce<() => Promise<R>>((inner, e) => () => e.read!(key, inner), load)();
  }

  /** Tell the extensions that follow changes, once the change is committed (see afterCommit). */
  private async changed(db: Queryable): Promise<void> {
    for (const e of this.spec.extensions ?? []) if (e.committed) await afterCommit(db, () => e.committed!());
  }

  /**
   * Run `fn` with this resource's extensions, as its own statements run (settings set for
   * row-level security, conditions to add, server-set columns): for features that write their own
   * SQL against the table (an event store's appends and feeds). In `db`'s transaction when it is
   * one (the extensions' settings are set in it), otherwise in one of its own when needed.
   */
  withScope<R>(
    fn: (
      db: Queryable,
      scope: {
        where(bind: Bind, mode?: 'read' | 'write', row?: string): string[];
        insert: [string, unknown][];
        /** Some extension records changed rows (RETURNING to_jsonb(row)::text and `record` them). */
        capturing: boolean;
        record(q: Queryable, changes: RowChange[]): Promise<void>;
      },
    ) => Promise<R>,
    op?: ChangeOp,
    db: Queryable = this.db,
  ): Promise<R> {
    return this.scoped(db, (q, s) => fn(q, { where: s.where, insert: s.insert, capturing: s.capturing, record: s.record }), op);
  }

  /**
   * Conditions the app adds to every statement that row-level security also enforces in the
   * database. The app never relies on the policies alone, and the policies catch what
   * application code might forget (the tests replace this method with one that adds nothing,
   * and attack that app).
   */
  protected enforcedFilters(bind: Bind, parts: readonly CallScope[]): string[] {
    return parts.flatMap((p) => p.enforced?.(bind) ?? []);
  }

  /**
   * The conditions of a call's parts for a statement whose row is named `row`: those the database
   * also enforces (enforcedFilters), then the app's own. Embedded resources' parts go through it
   * too (select.ts).
   */
  private conditions(parts: readonly CallScope[], bind: Bind, mode: 'read' | 'write', row: string): string[] {
    return [...this.enforcedFilters(bind, parts), ...parts.flatMap((p) => p.where?.(bind, mode, row) ?? [])];
  }

  /** `, to_jsonb(row)::text` in a RETURNING list, when the call records changes. */
  private capture(scope: Scope): string {
    return scope.capturing ? ', to_jsonb(__row)::text AS "__change"' : '';
  }

  /** The row as to_jsonb() text, locked for the change that follows (its old values, for recording). */
  private async before(q: Queryable, key: KeyValues, scope: Scope, extra: string[]): Promise<string | undefined> {
    if (!scope.capturing) return undefined;
    const params: unknown[] = [];
    const bind = binder(params);
    const conds = [this.keyWhere(key, bind), ...scope.where(bind, 'write', '__row'), ...extra];
    const r = await q.query(
      `SELECT to_jsonb(__row)::text AS j FROM ${this.spec.table} AS __row WHERE ${conds.join(' AND ')} FOR UPDATE`,
      params,
    );
    return (r.rows[0] as { j?: string } | undefined)?.j;
  }

  /** The row as to_jsonb() text, if the caller may read it (every scope applies); 404 if absent. */
  async rowJson(key: KeyValues, db: Queryable = this.db): Promise<string> {
    return this.scoped(db, async (q, scope) => {
      const params: unknown[] = [];
      const bind = binder(params);
      const conds = [this.keyWhere(key, bind), ...scope.where(bind, 'read', '__row')];
      const r = await q.query(`SELECT to_jsonb(__row)::text AS j FROM ${this.spec.table} AS __row WHERE ${conds.join(' AND ')}`, params);
      const j = (r.rows[0] as { j?: string } | undefined)?.j;
      if (!j) throw new NotFoundException(`${this.spec.name} not found`);
      return j;
    });
  }

  /** `"a" = $1 AND "b" = $2` for the key. */
  private keyWhere(key: KeyValues, bind: Bind): string {
    if (this.spec.key.length === 0) throw new NotFoundException(`${this.spec.name} rows have no key`);
    return this.spec.key
      .map((p) => {
        const f = this.field(p);
        const v = key[p];
        if (v === undefined) throw new BadRequestException(`missing key ${p}`);
        return `${ident(f.column)} = ${bind(v, f.sqlType)}`;
      })
      .join(' AND ');
  }

  /** Turn a DTO value into the parameter PostgreSQL expects for the column. */
  private toParam(f: FieldSpec, v: unknown): unknown {
    if (v === null || v === undefined) return null;
    if (f.kind === 'json') return JSON.stringify(v);
    if (f.kind === 'bytes') return Buffer.from(String(v), 'base64');
    return v;
  }

  /** Rows → API objects: bytes as base64, ctid helper column dropped. */
  protected toApi(row: Row): T {
    for (const f of this.readable) {
      const v = row[f.property];
      if (f.kind === 'bytes' && Buffer.isBuffer(v)) row[f.property] = v.toString('base64');
    }
    delete row.__ctid;
    delete row.__change;
    return row as T;
  }

  /** `withDeleted=true|false`, only on resources with soft delete. */
  withDeleted(raw: unknown): boolean {
    if (raw === undefined) return false;
    if (!this.spec.softDeleteColumn) throw new BadRequestException(`withDeleted: ${this.spec.name} rows are not soft-deleted`);
    if (raw !== 'true' && raw !== 'false') throw new BadRequestException('withDeleted: true or false');
    return raw === 'true';
  }

  /**
   * The SELECT list of a read: the selected fields (`select=`), those the answer needs besides
   * (`extra`: sort keys for the next cursor; dropped again by `pick`), and the embeds.
   */
  private selectOf(selection: Selection, embeds: EmbedSql, extra: FieldSpec[] = []): { list: string; pick?: (row: Row) => void } {
    const all = selection.fields.length === this.readable.length && selection.embeds.length === 0;
    if (all) return { list: this.selectList };
    const fields = [...selection.fields, ...extra.filter((f) => !selection.fields.includes(f))];
    const cols = fields.map(selected);
    cols.push(...embeds.columns(selection, '__root'));
    const hidden = fields.filter((f) => !selection.fields.includes(f)).map((f) => f.property);
    return {
      list: cols.join(', ') || '1 AS "_"',
      pick: (row) => {
        for (const h of hidden) delete row[h];
        delete row._;
      },
    };
  }

  /**
   * What a list and an export of it share: `select=` parsed, the list's plan (filters, q, sort,
   * paging), the embeds' permissions checked, the extensions' scope opened, and the statement's
   * conditions (on `__root`) and SELECT list; their parameters are in `params`, `bind` adds more.
   */
  private async readPlan(query: Record<string, unknown>) {
    const { selection, rest } = parseSelect(this.spec, query);
    const base = this.withDeleted(rest.withDeleted) ? [] : this.notDeleted();
    const plan = planList(this.spec, rest, base);
    const call: CrudCall = { ctx: requestContext(), unscoped: false };
    if (selection.embeds.length) await checkEmbeds(selection, call);
    const opened = this.open();
    const params = [...plan.params];
    const bind = binder(params);
    const conditions: Conditions = (parts, b, mode, row) => this.conditions(parts, b, mode, row);
    const embeds = new EmbedSql(call, bind, opened.settings, conditions);
    const where = [...plan.where, ...opened.scope.where(bind, 'read', '__root'), ...embeds.rootFilters(selection, '__root')];
    const { list, pick } = this.selectOf(
      selection,
      embeds,
      plan.sort.map((k) => k.field),
    );
    return { selection, rest, plan, call, opened, params, bind, conditions, where, list, pick };
  }

  async list(query: Record<string, unknown>, db: Queryable = this.db): Promise<ListResult<T>> {
    const { selection, rest, plan, call, opened, params, bind, conditions, where, list, pick } = await this.readPlan(query);
    const countParams = [...plan.countParams];
    const countWhere = [
      ...plan.countWhere,
      ...opened.scope.where(binder(countParams), 'read', '__root'),
      ...new EmbedSql(call, binder(countParams), opened.settings, conditions).rootFilters(selection, '__root'),
    ];
    const ctidCol = plan.ctid ? `, tableoid::oid::text || ':' || ctid::text AS "__ctid"` : '';
    const sql =
      `SELECT ${list}${ctidCol} FROM ${this.spec.table} AS __root${whereClause(where)}` +
      ` ORDER BY ${orderBy(plan)} LIMIT ${bind(plan.limit + 1)} OFFSET ${bind(plan.offset)}`;
    const counted = plan.count !== 'none';
    const key = () => [
      'list',
      sql,
      params,
      counted ? [plan.count, countWhere, countParams] : null,
      [...opened.settings],
      rest.cursor === undefined,
    ];
    // Embedded rows are other tables': an answer holding them is never served from a cache kept
    // for this one.
    return this.read(
      db,
      key,
      () =>
        this.inScope(db, opened, async (q) => {
          const rows = (await q.query(sql, params)).rows as Row[];
          const more = rows.length > plan.limit;
          if (more) rows.pop();
          const meta: ListMeta = { limit: plan.limit, countMode: plan.count };
          if (rest.cursor === undefined) meta.offset = plan.offset;
          // Rows by relevance (q= without sort) page with offset only.
          if (more && this.spec.tieBreaker !== 'none' && !plan.rank) {
            const last = rows[rows.length - 1];
            const values = plan.sort.map((k) => {
              const v = last[k.field.property];
              return v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v);
            });
            if (plan.ctid) values.push(String(last.__ctid));
            meta.nextCursor = encodeCursor(plan.sortSignature, values);
          }
          if (counted) meta.count = await this.count(plan.count, countWhere, countParams, q);
          if (pick) rows.forEach(pick);
          return { data: rows.map((r) => this.toApi(r)), meta };
        }),
      selection.embeds.length === 0,
    );
  }

  /**
   * Counts, sums, averages, minima and maxima over the rows the list with the same filters
   * returns, per group and time bucket (see aggregate.ts): the list's scopes, row-level security
   * and soft delete apply as they do to the list.
   */
  async aggregate(
    query: Record<string, unknown>,
    db: Queryable = this.db,
  ): Promise<{ data: AggregateRow[]; meta: { limit: number; more: boolean } }> {
    const plan = planAggregate(this.spec, query);
    const base = this.withDeleted(query.withDeleted) ? [] : this.notDeleted();
    const list = planList(this.spec, plan.filters, base);
    const opened = this.open();
    const params = [...list.countParams];
    const bind = binder(params);
    const where = [...list.countWhere, ...opened.scope.where(bind, 'read', '__root')];
    const sql = aggregateStatement(this.spec, plan, where, bind);
    return this.read(
      db,
      () => ['aggregate', sql, params, [...opened.settings]],
      () =>
        this.inScope(db, opened, async (q) => {
          const rows = (await q.query(sql, params)).rows as Row[];
          const more = rows.length > plan.limit;
          if (more) rows.pop();
          return { data: rows.map((r) => aggregateRow(plan, r)), meta: { limit: plan.limit, more } };
        }),
    );
  }

  /**
   * Every row the list with the same filters, sort and `select=` returns (or the first `limit`),
   * as a CSV, NDJSON or XLSX file streamed from a database cursor (see export.ts): the list's
   * scopes, row-level security, soft delete and embeds' permissions apply as they do to the list.
   */
  async export(query: Record<string, unknown>): Promise<StreamableFile> {
    const format = exportFormat(query.format);
    const bom = exportBom(query.bom, format);
    for (const p of ['offset', 'cursor', 'count'] as const) {
      if (query[p] !== undefined) throw new BadRequestException(`${p}: an export has every row (limit takes the first n)`);
    }
    const rawLimit = query.limit;
    if (rawLimit !== undefined && (typeof rawLimit !== 'string' || !/^\d{1,9}$/.test(rawLimit) || Number(rawLimit) < 1)) {
      throw new BadRequestException('limit: a whole number of at least 1');
    }
    const own = Object.fromEntries(
      Object.entries(query).filter(([k]) => !(EXPORT_PARAMS as readonly string[]).includes(k) && k !== 'limit'),
    );
    // No cursor here: the plan's conditions are the filters (and q).
    const { selection, plan, opened, params, bind, where, list, pick } = await this.readPlan(own);
    const sql =
      `SELECT ${list} FROM ${this.spec.table} AS __root${whereClause(where)} ORDER BY ${orderBy(plan)}` +
      (rawLimit === undefined ? '' : ` LIMIT ${bind(Number(rawLimit))}`);
    const columns: ExportColumn[] = [
      ...selection.fields.map((f) => ({ name: f.property, field: f })),
      ...selection.embeds.map((e) => ({ name: e.relation.name })),
    ];
    return runExport({
      pool: this.db.pool,
      sql,
      params,
      settings: opened.settings,
      format,
      bom,
      columns,
      toApi: (row) => {
        pick?.(row);
        return this.toApi(row);
      },
      name: this.spec.table.replace(/^.*\./, '').replace(/[^A-Za-z0-9_-]/g, '') || 'export',
    });
  }

  private async count(mode: CountMode, where: string[], params: unknown[], db: Queryable): Promise<number> {
    if (mode === 'exact') {
      const r = await db.query(`SELECT count(*)::text AS n FROM ${this.spec.table} AS __root${whereClause(where)}`, params);
      return Number(r.rows[0].n);
    }
    // The planner's estimate: no scan, fine for large tables.
    const r = await db.query(`EXPLAIN (FORMAT JSON) SELECT 1 FROM ${this.spec.table} AS __root${whereClause(where)}`, params);
    const plan = (r.rows[0] as Record<string, unknown>)['QUERY PLAN'] as [{ Plan: { 'Plan Rows': number } }];
    return Math.round(plan[0].Plan['Plan Rows']);
  }

  /**
   * One row by its key. `query`: the route's query string, for `select=` and its embeds'
   * parameters (other parameters are the route's business).
   */
  async get(key: KeyValues, options: { withDeleted?: boolean; query?: Record<string, unknown> } = {}, db: Queryable = this.db): Promise<T> {
    const own = Object.fromEntries(Object.entries(options.query ?? {}).filter(([k]) => k === 'select' || k.includes('.')));
    const { selection } = parseSelect(this.spec, own);
    for (const e of selection.embeds) {
      if (e.relation.kind === 'one' && e.filters.length) throw new BadRequestException(`${e.path}: filters apply to lists`);
    }
    const call: CrudCall = { ctx: requestContext(), unscoped: false };
    if (selection.embeds.length) await checkEmbeds(selection, call);
    const opened = this.open();
    const params: unknown[] = [];
    const bind = binder(params);
    const embeds = new EmbedSql(call, bind, opened.settings, (parts, b, mode, row) => this.conditions(parts, b, mode, row));
    const { list, pick } = this.selectOf(selection, embeds);
    const conds = [
      this.keyWhere(key, bind),
      ...opened.scope.where(bind, 'read', '__root'),
      ...(options.withDeleted ? [] : this.notDeleted()),
    ];
    const sql = `SELECT ${list} FROM ${this.spec.table} AS __root WHERE ${conds.join(' AND ')}`;
    return this.read(
      db,
      () => ['get', sql, params, [...opened.settings]],
      () =>
        this.inScope(db, opened, async (q) => {
          const r = await q.query(sql, params);
          if (r.rows.length === 0) throw new NotFoundException(`${this.spec.name} not found`);
          const row = r.rows[0] as Row;
          pick?.(row);
          return this.toApi(row);
        }),
      selection.embeds.length === 0,
    );
  }

  private writableEntries(dto: object): [FieldSpec, unknown][] {
    const out: [FieldSpec, unknown][] = [];
    for (const [prop, value] of Object.entries(dto)) {
      if (value === undefined) continue;
      const f = this.byProperty.get(prop);
      if (!f || !f.writable) throw new BadRequestException(`property ${prop} cannot be set`);
      if (f.server === 'self' && value !== null && value !== requestContext()?.userId) {
        throw new BadRequestException(`${prop} may only be set to your own user id`);
      }
      if (f.privileged) {
        const rule = (this.spec.extensions ?? []).map((e) => e.privileged?.(requestContext())).find((r) => r !== undefined);
        if (!rule?.allowed)
          throw new ForbiddenException(`${prop} can only be changed by an administrator (${rule?.permission ?? 'every-row permission'})`);
      }
      out.push([f, this.toParam(f, value)]);
    }
    return out;
  }

  /** Columns the server sets on insert: `server` and the extensions' (by column name), then actors. */
  private serverEntries(server: Record<string, unknown>, scope: Scope): [FieldSpec, unknown][] {
    const out: [FieldSpec, unknown][] = [];
    for (const [column, value] of Object.entries(server)) {
      const f = this.spec.fields.find((x) => x.column === column);
      if (!f) throw new Error(`unknown column ${column}`);
      out.push([f, this.toParam(f, value)]);
    }
    for (const [column, value] of scope.insert) {
      const f = this.spec.fields.find((x) => x.column === column);
      if (!f) throw new Error(`unknown column ${column}`);
      out.push([f, value]);
    }
    out.push(...this.actorEntries(['create', 'update']).filter(([f]) => !(f.column in server)));
    return out;
  }

  /** Actor columns stamped with the signed-in user for these moments (none without a user). */
  private actorEntries(when: readonly ('create' | 'update' | 'delete')[]): [FieldSpec, unknown][] {
    const userId = requestContext()?.userId;
    if (userId === undefined) return [];
    return this.spec.fields.filter((f) => f.server !== undefined && f.server !== 'self' && when.includes(f.server)).map((f) => [f, userId]);
  }

  /** `"col" = $n` for actor columns of an update, restore or soft delete. */
  private actorSets(when: readonly ('create' | 'update' | 'delete')[], bind: Bind): string[] {
    return this.actorEntries(when).map(([f, v]) => `${ident(f.column)} = ${bind(v, f.sqlType)}`);
  }

  /** Insert one row. `server` sets columns clients may not (by column name), e.g. a password hash. */
  async create(dto: object, db: Queryable = this.db, server: Record<string, unknown> = {}): Promise<T> {
    const entries = this.writableEntries(dto);
    return this.scoped(
      db,
      async (q, scope) => {
        const all = [...entries, ...this.serverEntries(server, scope)];
        const params = all.map(([, v]) => v);
        const columns = all.map(([f]) => ident(f.column));
        const values = all.map(([f], i) => (writeCast(f) ? typedParam(`$${i + 1}`, f.sqlType) : `$${i + 1}`));
        const stamp = this.spec.createdAtColumn;
        if (stamp && !all.some(([f]) => f.column === stamp)) {
          columns.push(ident(stamp));
          values.push('now()');
        }
        const sql = columns.length
          ? `INSERT INTO ${this.spec.table} AS __row (${columns.join(', ')}) VALUES (${values.join(', ')})`
          : `INSERT INTO ${this.spec.table} AS __row DEFAULT VALUES`;
        const r = await q.query(`${sql} RETURNING ${this.selectList}${this.capture(scope)}`, params);
        const row = r.rows[0] as Row;
        await scope.record(q, [{ new: row.__change as string | undefined }]);
        return this.toApi(row);
      },
      'INSERT',
    ).then((row) => {
      emitCreated(this.spec.table, [row]);
      return row;
    });
  }

  /** All rows or none: one INSERT statement. */
  async createMany(dtos: object[], db: Queryable = this.db): Promise<T[]> {
    if (dtos.length === 0) throw new BadRequestException('send at least one row');
    if (dtos.length > MAX_BULK) throw new PayloadTooLargeException(`send at most ${MAX_BULK} rows at once`);
    const written = dtos.map((d) => this.writableEntries(d));
    return this.scoped(
      db,
      async (q, scope) => {
        const rows = written.map((e) => new Map([...e, ...this.serverEntries({}, scope)].map(([f, v]) => [f.column, v])));
        const stamp = this.spec.createdAtColumn;
        const columns = [...new Set([...rows.flatMap((r) => [...r.keys()]), ...(stamp ? [stamp] : [])])];
        let inserted: Row[];
        if (columns.length === 0) {
          inserted = [];
          for (let i = 0; i < rows.length; i++) {
            const r = await q.query(
              `INSERT INTO ${this.spec.table} AS __row DEFAULT VALUES RETURNING ${this.selectList}${this.capture(scope)}`,
            );
            inserted.push(r.rows[0] as Row);
          }
        } else {
          const params: unknown[] = [];
          const bind = binder(params);
          const casts = new Map(this.spec.fields.map((f) => [f.column, writeCast(f)]));
          const values = rows.map(
            (r) => `(${columns.map((c) => (r.has(c) ? bind(r.get(c), casts.get(c)) : c === stamp ? 'now()' : 'DEFAULT')).join(', ')})`,
          );
          const sql = `INSERT INTO ${this.spec.table} AS __row (${columns.map(ident).join(', ')}) VALUES ${values.join(', ')} RETURNING ${this.selectList}${this.capture(scope)}`;
          inserted = (await q.query(sql, params)).rows as Row[];
        }
        await scope.record(
          q,
          inserted.map((r) => ({ new: r.__change as string | undefined })),
        );
        return inserted.map((r) => this.toApi(r));
      },
      'INSERT',
    ).then((rows) => {
      emitCreated(this.spec.table, rows);
      return rows;
    });
  }

  /**
   * The request's If-Match for this change (see http/precondition.ts), checked against the row as
   * GET shows it, read locked in the change's transaction: 412 when it no longer names it.
   */
  private async precondition(q: Queryable, key: KeyValues, scope: Scope, extra: string[]): Promise<void> {
    const ifMatch = takePrecondition(this.spec.table);
    if (!ifMatch) return;
    const params: unknown[] = [];
    const bind = binder(params);
    const conds = [this.keyWhere(key, bind), ...scope.where(bind, 'read'), ...extra];
    const r = await q.query(`SELECT ${this.selectList} FROM ${this.spec.table} WHERE ${conds.join(' AND ')} FOR UPDATE`, params);
    if (r.rows.length === 0) throw new NotFoundException(`${this.spec.name} not found`);
    const etag = etagOf(JSON.stringify({ data: this.toApi(r.rows[0] as Row) }));
    if (!names(ifMatch, etag)) throw new PreconditionFailedException(etag);
  }

  /** A change under an If-Match runs in a transaction of its own (the row stays locked from the check to the write). */
  private guarded(db: Queryable): boolean {
    return db === this.db && preconditionFor(this.spec.table) !== undefined;
  }

  async update(key: KeyValues, dto: object, db: Queryable = this.db): Promise<T> {
    const entries = this.writableEntries(dto);
    if (entries.length === 0) throw new BadRequestException('send at least one field to change');
    if (this.guarded(db)) return this.db.transaction((tx) => this.update(key, dto, tx));
    return this.scoped(
      db,
      async (q, scope) => {
        await this.precondition(q, key, scope, this.notDeleted());
        const old = await this.before(q, key, scope, this.notDeleted());
        const params: unknown[] = [];
        const bind = binder(params);
        const sets = [...entries.map(([f, v]) => `${ident(f.column)} = ${bind(v, writeCast(f))}`), ...this.actorSets(['update'], bind)];
        if (this.spec.updatedAtColumn && !entries.some(([f]) => f.column === this.spec.updatedAtColumn)) {
          sets.push(`${ident(this.spec.updatedAtColumn)} = now()`);
        }
        const conds = [this.keyWhere(key, bind), ...scope.where(bind), ...this.notDeleted()];
        const r = await q.query(
          `UPDATE ${this.spec.table} AS __row SET ${sets.join(', ')} WHERE ${conds.join(' AND ')} RETURNING ${this.selectList}${this.capture(scope)}`,
          params,
        );
        if (r.rows.length === 0) throw new NotFoundException(`${this.spec.name} not found`);
        const row = r.rows[0] as Row;
        await scope.record(q, [{ old, new: row.__change as string | undefined }]);
        return this.toApi(row);
      },
      'UPDATE',
    );
  }

  /** Soft delete where the table has a deleted_at column, hard delete otherwise. */
  async remove(key: KeyValues, db: Queryable = this.db): Promise<void> {
    const soft = this.spec.softDeleteColumn;
    if (this.guarded(db)) return this.db.transaction((tx) => this.remove(key, tx));
    await this.scoped(
      db,
      async (q, scope) => {
        await this.precondition(q, key, scope, this.notDeleted());
        const old = soft ? await this.before(q, key, scope, [`${ident(soft)} IS NULL`]) : undefined;
        const params: unknown[] = [];
        const bind = binder(params);
        const conds = [this.keyWhere(key, bind), ...scope.where(bind)];
        const returning = scope.capturing ? ' RETURNING to_jsonb(__row)::text AS "__change"' : '';
        const sets = [`${ident(soft ?? '')} = now()`, ...(soft ? this.actorSets(['update', 'delete'], bind) : [])];
        if (this.spec.updatedAtColumn) sets.push(`${ident(this.spec.updatedAtColumn)} = now()`);
        const r = soft
          ? await q.query(
              `UPDATE ${this.spec.table} AS __row SET ${sets.join(', ')} WHERE ${[...conds, `${ident(soft)} IS NULL`].join(' AND ')}${returning}`,
              params,
            )
          : await q.query(`DELETE FROM ${this.spec.table} AS __row WHERE ${conds.join(' AND ')}${returning}`, params);
        if (r.rowCount === 0) throw new NotFoundException(`${this.spec.name} not found`);
        const changed = (r.rows as Row[]).map((x): RowChange =>
          soft ? { old, new: x.__change as string } : { old: x.__change as string },
        );
        await scope.record(q, changed);
      },
      'DELETE',
    );
  }

  async restore(key: KeyValues, db: Queryable = this.db): Promise<T> {
    const column = this.spec.softDeleteColumn;
    if (!column) throw new NotFoundException(`${this.spec.name} rows are not soft-deleted`);
    if (this.guarded(db)) return this.db.transaction((tx) => this.restore(key, tx));
    return this.scoped(
      db,
      async (q, scope) => {
        await this.precondition(q, key, scope, [`${ident(column)} IS NOT NULL`]);
        const old = await this.before(q, key, scope, [`${ident(column)} IS NOT NULL`]);
        const params: unknown[] = [];
        const bind = binder(params);
        const conds = [this.keyWhere(key, bind), ...scope.where(bind), `${ident(column)} IS NOT NULL`];
        const sets = [`${ident(column)} = NULL`, ...this.actorSets(['update'], bind)];
        // Who deleted it no longer applies.
        for (const f of this.spec.fields.filter((x) => x.server === 'delete')) sets.push(`${ident(f.column)} = NULL`);
        if (this.spec.updatedAtColumn) sets.push(`${ident(this.spec.updatedAtColumn)} = now()`);
        const r = await q.query(
          `UPDATE ${this.spec.table} AS __row SET ${sets.join(', ')} WHERE ${conds.join(' AND ')} RETURNING ${this.selectList}${this.capture(scope)}`,
          params,
        );
        if (r.rows.length === 0) throw new NotFoundException(`no deleted ${this.spec.name} with that key`);
        const row = r.rows[0] as Row;
        await scope.record(q, [{ old, new: row.__change as string | undefined }]);
        return this.toApi(row);
      },
      'RESTORE',
    );
  }

  /**
   * A change the server makes on its own behalf (sign-in flows: a new password hash, a verified
   * email), by column name, with the extensions (change recording, settings) of any other change; not limited
   * to the caller's own rows. 404 when the row is gone.
   */
  async updateColumns(key: KeyValues, values: Record<string, unknown>, db: Queryable = this.db): Promise<void> {
    const entries = Object.entries(values).map(([column, v]) => {
      const f = this.spec.fields.find((x) => x.column === column);
      if (!f) throw new Error(`unknown column ${column}`);
      return [f, this.toParam(f, v)] as [FieldSpec, unknown];
    });
    if (entries.length === 0) return;
    await this.scoped(
      db,
      async (q, scope) => {
        const old = await this.before(q, key, scope, []);
        const params: unknown[] = [];
        const bind = binder(params);
        const sets = entries.map(([f, v]) => `${ident(f.column)} = ${bind(v, f.sqlType)}`);
        if (this.spec.updatedAtColumn && !(this.spec.updatedAtColumn in values)) sets.push(`${ident(this.spec.updatedAtColumn)} = now()`);
        const conds = [this.keyWhere(key, bind), ...scope.where(bind)];
        const r = await q.query(
          `UPDATE ${this.spec.table} AS __row SET ${sets.join(', ')} WHERE ${conds.join(' AND ')}${scope.capturing ? ' RETURNING to_jsonb(__row)::text AS "__change"' : ''}`,
          params,
        );
        if (r.rowCount === 0) throw new NotFoundException(`${this.spec.name} not found`);
        await scope.record(
          q,
          (r.rows as Row[]).map((x) => ({ old, new: x.__change as string | undefined })),
        );
      },
      'UPDATE',
      { unscoped: true },
    );
  }
}
