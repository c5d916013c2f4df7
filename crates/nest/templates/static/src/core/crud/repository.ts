import { BadRequestException, ForbiddenException, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { MAX_BULK } from './bulk.pipe.js';
import type { DatabaseService, Queryable } from '../database/database.service.js';
import { requestContext } from '../http/request-context.js';
import { type CountMode, encodeCursor, orderBy, planList, whereClause } from './query.js';
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

/** What a change is, in the audit trail. */
export type AuditOp = 'INSERT' | 'UPDATE' | 'DELETE' | 'RESTORE';

/** Adds `$n` parameters to a list and returns their placeholders. */
type Bind = (value: unknown, cast?: string) => string;

function binder(params: unknown[]): Bind {
  return (value, cast) => {
    params.push(value);
    return cast ? typedParam(`$${params.length}`, cast) : `$${params.length}`;
  };
}

/**
 * SQL for one resource, built from its spec: identifiers from the spec (quoted), values as
 * parameters. Generated repositories extend this with their spec.
 *
 * Tenant-scoped tables: every statement runs in a transaction that first sets the tenant for
 * row-level security (`set_config(setting, tenant, true)`, i.e. SET LOCAL: nothing survives
 * on the pooled connection), and also filters by the tenant column; inserts take the tenant
 * from the request, never from the client.
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
    this.selectList =
      this.readable.map((f) => `${ident(f.column)}${f.readCast ? `::${f.readCast}` : ''} AS ${ident(f.property)}`).join(', ') || '1 AS "_"';
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
   * Run `fn` with the request's row scopes (tenant, owner) and, for a change to an audited table,
   * its audit context: inside a transaction that sets them for row-level security
   * (`set_config(..., true)`: nothing survives on the pooled connection), passing a function that
   * returns the WHERE conditions the app adds itself. Other statements run as they are.
   * `unscoped`: a change the server makes on its own behalf (sign-in flows), not limited to the
   * caller's own rows.
   */
  private async scoped<R>(
    db: Queryable,
    fn: (db: Queryable, scopeWhere: (bind: Bind, mode?: 'read' | 'write') => string[], tenant?: string) => Promise<R>,
    op?: AuditOp,
    opts: { unscoped?: boolean } = {},
  ): Promise<R> {
    const t = this.spec.tenant;
    const o = this.spec.owner;
    const audit = op ? this.spec.audit : undefined;
    const ctx = requestContext();
    const tenant = t ? ctx?.tenant : undefined;
    if (t && !tenant) throw new ForbiddenException('no organization for this request');
    const bypass = opts.unscoped === true || ctx?.ownerBypass === true;
    // Owners and admins of the caller's tenant also read the accounts of its members.
    const membersOf =
      o?.members && !bypass && ctx?.tenant && (ctx.tenantRole === 'owner' || ctx.tenantRole === 'admin') ? ctx.tenant : undefined;
    const userId = ctx?.userId ?? null;
    const where = (bind: Bind, mode: 'read' | 'write' = 'write') => {
      const conds = this.enforcedFilters(bind, tenant, userId, bypass);
      // The users table's own-row scope has no row-level security behind it (sign-in reads
      // accounts before anyone is known): the app's condition is the only one.
      if (o && !o.rls && !bypass) {
        const mine = `${ident(o.column)} = ${bind(userId, o.type)}`;
        if (mode === 'read' && membersOf && o.members) {
          const members = o.members;
          conds.push(`(${mine} OR ${members.sql.replaceAll('$T', bind(membersOf, members.type))})`);
        } else {
          conds.push(mine);
        }
      }
      return conds;
    };
    if (!t && !audit && !(o && (o.rls || membersOf))) return fn(db, where);
    const run = async (tx: Queryable) => {
      const params: unknown[] = [];
      const sets: string[] = [];
      const set = (name: string, value: string) => {
        params.push(name, value);
        sets.push(`set_config($${params.length - 1}, $${params.length}, true)`);
      };
      if (t && tenant) set(t.setting, tenant);
      if (membersOf && o?.members) set(o.members.setting, membersOf);
      if (t || o) set('nestgen.user_id', ctx?.userId ?? '');
      if (o?.rls) set('nestgen.owner_bypass', bypass ? 'on' : '');
      if (audit) {
        set(
          'nestgen.audit_context',
          JSON.stringify({
            userId: ctx?.userId,
            email: ctx?.email,
            ip: ctx?.ip,
            userAgent: ctx?.userAgent,
            requestId: ctx?.requestId,
            correlationId: ctx?.correlationId,
            reason: ctx?.reason,
            op,
            opTable: `${audit.schema}.${audit.table}`,
          }),
        );
      }
      if (sets.length) await tx.query(`SELECT ${sets.join(', ')}`, params);
      return fn(tx, where, tenant);
    };
    return db === this.db ? this.db.transaction(run) : run(db);
  }

  /**
   * Conditions the app adds to every statement that row-level security also enforces in the
   * database (the tenant column; the owner column of own-rows tables). The app never relies on
   * the policies alone, and the policies catch what application code might forget (the tests
   * replace this method with one that adds nothing, and attack that app).
   */
  protected enforcedFilters(bind: Bind, tenant: string | undefined, userId: string | null, bypass: boolean): string[] {
    const t = this.spec.tenant;
    const o = this.spec.owner;
    const conds: string[] = [];
    if (t) conds.push(`${ident(t.column)} = ${bind(tenant, t.type)}`);
    if (o?.rls && !bypass) conds.push(`${ident(o.column)} = ${bind(userId, o.type)}`);
    return conds;
  }

  /** The app writes this table's audit rows (mode `application`). */
  private get auditing(): boolean {
    return this.spec.audit?.mode === 'application';
  }

  /** `, to_jsonb(row)::text` in a RETURNING list, when the app audits. */
  private get auditColumn(): string {
    return this.auditing ? ', to_jsonb(__row)::text AS "__audit"' : '';
  }

  /** The row as to_jsonb() text, locked for the change that follows (audit's old values). */
  private async before(q: Queryable, key: KeyValues, scopeWhere: (bind: Bind) => string[], extra: string[]): Promise<string | undefined> {
    if (!this.auditing) return undefined;
    const params: unknown[] = [];
    const bind = binder(params);
    const conds = [this.keyWhere(key, bind), ...scopeWhere(bind), ...extra];
    const r = await q.query(`SELECT to_jsonb(__row)::text AS j FROM ${this.spec.table} AS __row WHERE ${conds.join(' AND ')} FOR UPDATE`, params);
    return (r.rows[0] as { j?: string } | undefined)?.j;
  }

  /** Record changed rows in the audit trail, in the change's transaction (mode `application`). */
  private async record(q: Queryable, op: AuditOp, changes: { old?: unknown; new?: unknown }[]): Promise<void> {
    const a = this.spec.audit;
    if (!a || !this.auditing || changes.length === 0) return;
    // The rows stay PostgreSQL's own JSON text: no JavaScript number ever rounds a value.
    const json = (v: unknown) => (typeof v === 'string' ? v : 'null');
    const rows = `[${changes.map((c) => `{"old":${json(c.old)},"new":${json(c.new)}}`).join(',')}]`;
    await q.query('SELECT nestgen.audit_record($1, $2, $3, $4::jsonb)', [a.schema, a.table, op, rows]);
  }

  /** The row as to_jsonb() text (for its audit history), within the caller's tenant; 404 if absent. */
  async rowJson(key: KeyValues, db: Queryable = this.db): Promise<string> {
    return this.scoped(db, async (q, scopeWhere) => {
      const params: unknown[] = [];
      const bind = binder(params);
      const conds = [this.keyWhere(key, bind), ...scopeWhere(bind, 'read')];
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
    delete row.__audit;
    return row as T;
  }

  /** `withDeleted=true|false`, only on resources with soft delete. */
  withDeleted(raw: unknown): boolean {
    if (raw === undefined) return false;
    if (!this.spec.softDeleteColumn) throw new BadRequestException(`withDeleted: ${this.spec.name} rows are not soft-deleted`);
    if (raw !== 'true' && raw !== 'false') throw new BadRequestException('withDeleted: true or false');
    return raw === 'true';
  }

  async list(query: Record<string, unknown>, db: Queryable = this.db): Promise<ListResult<T>> {
    const base = this.withDeleted(query.withDeleted) ? [] : this.notDeleted();
    const plan = planList(this.spec, query, base);
    return this.scoped(db, async (q, scopeWhere) => {
      const params = [...plan.params];
      const where = [...plan.where, ...scopeWhere(binder(params), 'read')];
      const countParams = [...plan.countParams];
      const countWhere = [...plan.countWhere, ...scopeWhere(binder(countParams), 'read')];
      const bind = binder(params);
      const ctidCol = plan.ctid ? ', ctid::text AS "__ctid"' : '';
      const sql =
        `SELECT ${this.selectList}${ctidCol} FROM ${this.spec.table}${whereClause(where)}` +
        ` ORDER BY ${orderBy(plan)} LIMIT ${bind(plan.limit + 1)} OFFSET ${bind(plan.offset)}`;
      const rows = (await q.query(sql, params)).rows as Row[];
      const more = rows.length > plan.limit;
      if (more) rows.pop();
      const meta: ListMeta = { limit: plan.limit, countMode: plan.count };
      if (query.cursor === undefined) meta.offset = plan.offset;
      if (more && this.spec.tieBreaker !== 'none') {
        const last = rows[rows.length - 1];
        const values = plan.sort.map((k) => {
          const v = last[k.field.property];
          return v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v);
        });
        if (plan.ctid) values.push(String(last.__ctid));
        meta.nextCursor = encodeCursor(plan.sortSignature, values);
      }
      if (plan.count !== 'none') meta.count = await this.count(plan.count, countWhere, countParams, q);
      return { data: rows.map((r) => this.toApi(r)), meta };
    });
  }

  private async count(mode: CountMode, where: string[], params: unknown[], db: Queryable): Promise<number> {
    if (mode === 'exact') {
      const r = await db.query(`SELECT count(*)::text AS n FROM ${this.spec.table}${whereClause(where)}`, params);
      return Number(r.rows[0].n);
    }
    // The planner's estimate: no scan, fine for large tables.
    const r = await db.query(`EXPLAIN (FORMAT JSON) SELECT 1 FROM ${this.spec.table}${whereClause(where)}`, params);
    const plan = (r.rows[0] as Record<string, unknown>)['QUERY PLAN'] as [{ Plan: { 'Plan Rows': number } }];
    return Math.round(plan[0].Plan['Plan Rows']);
  }

  async get(key: KeyValues, options: { withDeleted?: boolean } = {}, db: Queryable = this.db): Promise<T> {
    return this.scoped(db, async (q, scopeWhere) => {
      const params: unknown[] = [];
      const bind = binder(params);
      const conds = [this.keyWhere(key, bind), ...scopeWhere(bind, 'read'), ...(options.withDeleted ? [] : this.notDeleted())];
      const r = await q.query(`SELECT ${this.selectList} FROM ${this.spec.table} WHERE ${conds.join(' AND ')}`, params);
      if (r.rows.length === 0) throw new NotFoundException(`${this.spec.name} not found`);
      return this.toApi(r.rows[0] as Row);
    });
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
      if (f.privileged && requestContext()?.ownerBypass !== true) {
        throw new ForbiddenException(`${prop} can only be changed by an administrator (${this.spec.owner?.bypass ?? 'every-row permission'})`);
      }
      out.push([f, this.toParam(f, value)]);
    }
    return out;
  }

  /** Columns the server sets on insert: `server` (by column name) and the request's tenant. */
  private serverEntries(server: Record<string, unknown>, tenant?: string): [FieldSpec, unknown][] {
    const out: [FieldSpec, unknown][] = [];
    for (const [column, value] of Object.entries(server)) {
      const f = this.spec.fields.find((x) => x.column === column);
      if (!f) throw new Error(`unknown column ${column}`);
      out.push([f, this.toParam(f, value)]);
    }
    if (this.spec.tenant && tenant !== undefined) {
      const f = this.spec.fields.find((x) => x.column === this.spec.tenant?.column);
      if (f) out.push([f, tenant]);
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
      async (q, _where, tenant) => {
        const all = [...entries, ...this.serverEntries(server, tenant)];
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
        const r = await q.query(`${sql} RETURNING ${this.selectList}${this.auditColumn}`, params);
        const row = r.rows[0] as Row;
        await this.record(q, 'INSERT', [{ new: row.__audit }]);
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
      async (q, _where, tenant) => {
        const rows = written.map((e) => new Map([...e, ...this.serverEntries({}, tenant)].map(([f, v]) => [f.column, v])));
        const stamp = this.spec.createdAtColumn;
        const columns = [...new Set([...rows.flatMap((r) => [...r.keys()]), ...(stamp ? [stamp] : [])])];
        let inserted: Row[];
        if (columns.length === 0) {
          inserted = [];
          for (let i = 0; i < rows.length; i++) {
            const r = await q.query(`INSERT INTO ${this.spec.table} AS __row DEFAULT VALUES RETURNING ${this.selectList}${this.auditColumn}`);
            inserted.push(r.rows[0] as Row);
          }
        } else {
          const params: unknown[] = [];
          const bind = binder(params);
          const casts = new Map(this.spec.fields.map((f) => [f.column, writeCast(f)]));
          const values = rows.map((r) => `(${columns.map((c) => (r.has(c) ? bind(r.get(c), casts.get(c)) : c === stamp ? 'now()' : 'DEFAULT')).join(', ')})`);
          const sql = `INSERT INTO ${this.spec.table} AS __row (${columns.map(ident).join(', ')}) VALUES ${values.join(', ')} RETURNING ${this.selectList}${this.auditColumn}`;
          inserted = (await q.query(sql, params)).rows as Row[];
        }
        await this.record(q, 'INSERT', inserted.map((r) => ({ new: r.__audit })));
        return inserted.map((r) => this.toApi(r));
      },
      'INSERT',
    ).then((rows) => {
      emitCreated(this.spec.table, rows);
      return rows;
    });
  }

  async update(key: KeyValues, dto: object, db: Queryable = this.db): Promise<T> {
    const entries = this.writableEntries(dto);
    if (entries.length === 0) throw new BadRequestException('send at least one field to change');
    return this.scoped(
      db,
      async (q, scopeWhere) => {
        const old = await this.before(q, key, scopeWhere, this.notDeleted());
        const params: unknown[] = [];
        const bind = binder(params);
        const sets = [...entries.map(([f, v]) => `${ident(f.column)} = ${bind(v, writeCast(f))}`), ...this.actorSets(['update'], bind)];
        if (this.spec.updatedAtColumn && !entries.some(([f]) => f.column === this.spec.updatedAtColumn)) {
          sets.push(`${ident(this.spec.updatedAtColumn)} = now()`);
        }
        const conds = [this.keyWhere(key, bind), ...scopeWhere(bind), ...this.notDeleted()];
        const r = await q.query(
          `UPDATE ${this.spec.table} AS __row SET ${sets.join(', ')} WHERE ${conds.join(' AND ')} RETURNING ${this.selectList}${this.auditColumn}`,
          params,
        );
        if (r.rows.length === 0) throw new NotFoundException(`${this.spec.name} not found`);
        const row = r.rows[0] as Row;
        await this.record(q, 'UPDATE', [{ old, new: row.__audit }]);
        return this.toApi(row);
      },
      'UPDATE',
    );
  }

  /** Soft delete where the table has a deleted_at column, hard delete otherwise. */
  async remove(key: KeyValues, db: Queryable = this.db): Promise<void> {
    const soft = this.spec.softDeleteColumn;
    await this.scoped(
      db,
      async (q, scopeWhere) => {
        const old = soft ? await this.before(q, key, scopeWhere, [`${ident(soft)} IS NULL`]) : undefined;
        const params: unknown[] = [];
        const bind = binder(params);
        const conds = [this.keyWhere(key, bind), ...scopeWhere(bind)];
        const returning = this.auditing ? ' RETURNING to_jsonb(__row)::text AS "__audit"' : '';
        const sets = [`${ident(soft ?? '')} = now()`, ...(soft ? this.actorSets(['update', 'delete'], bind) : [])];
        if (this.spec.updatedAtColumn) sets.push(`${ident(this.spec.updatedAtColumn)} = now()`);
        const r = soft
          ? await q.query(
              `UPDATE ${this.spec.table} AS __row SET ${sets.join(', ')} WHERE ${[...conds, `${ident(soft)} IS NULL`].join(' AND ')}${returning}`,
              params,
            )
          : await q.query(`DELETE FROM ${this.spec.table} AS __row WHERE ${conds.join(' AND ')}${returning}`, params);
        if (r.rowCount === 0) throw new NotFoundException(`${this.spec.name} not found`);
        const changed = (r.rows as Row[]).map((x) => (soft ? { old, new: x.__audit } : { old: x.__audit }));
        await this.record(q, 'DELETE', changed);
      },
      'DELETE',
    );
  }

  async restore(key: KeyValues, db: Queryable = this.db): Promise<T> {
    const column = this.spec.softDeleteColumn;
    if (!column) throw new NotFoundException(`${this.spec.name} rows are not soft-deleted`);
    return this.scoped(
      db,
      async (q, scopeWhere) => {
        const old = await this.before(q, key, scopeWhere, [`${ident(column)} IS NOT NULL`]);
        const params: unknown[] = [];
        const bind = binder(params);
        const conds = [this.keyWhere(key, bind), ...scopeWhere(bind), `${ident(column)} IS NOT NULL`];
        const sets = [`${ident(column)} = NULL`, ...this.actorSets(['update'], bind)];
        // Who deleted it no longer applies.
        for (const f of this.spec.fields.filter((x) => x.server === 'delete')) sets.push(`${ident(f.column)} = NULL`);
        if (this.spec.updatedAtColumn) sets.push(`${ident(this.spec.updatedAtColumn)} = now()`);
        const r = await q.query(
          `UPDATE ${this.spec.table} AS __row SET ${sets.join(', ')} WHERE ${conds.join(' AND ')} RETURNING ${this.selectList}${this.auditColumn}`,
          params,
        );
        if (r.rows.length === 0) throw new NotFoundException(`no deleted ${this.spec.name} with that key`);
        const row = r.rows[0] as Row;
        await this.record(q, 'RESTORE', [{ old, new: row.__audit }]);
        return this.toApi(row);
      },
      'RESTORE',
    );
  }

  /**
   * A change the server makes on its own behalf (sign-in flows: a new password hash, a verified
   * email), by column name, with the audit trail and row scopes of any other change; not limited
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
      async (q, scopeWhere) => {
        const old = await this.before(q, key, scopeWhere, []);
        const params: unknown[] = [];
        const bind = binder(params);
        const sets = entries.map(([f, v]) => `${ident(f.column)} = ${bind(v, f.sqlType)}`);
        if (this.spec.updatedAtColumn && !(this.spec.updatedAtColumn in values)) sets.push(`${ident(this.spec.updatedAtColumn)} = now()`);
        const conds = [this.keyWhere(key, bind), ...scopeWhere(bind)];
        const r = await q.query(`UPDATE ${this.spec.table} AS __row SET ${sets.join(', ')} WHERE ${conds.join(' AND ')}${this.auditing ? ' RETURNING to_jsonb(__row)::text AS "__audit"' : ''}`, params);
        if (r.rowCount === 0) throw new NotFoundException(`${this.spec.name} not found`);
        await this.record(q, 'UPDATE', (r.rows as Row[]).map((x) => ({ old, new: x.__audit })));
      },
      'UPDATE',
      { unscoped: true },
    );
  }
}
