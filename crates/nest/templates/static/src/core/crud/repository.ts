import { BadRequestException, NotFoundException } from '@nestjs/common';
import type { DatabaseService, Queryable } from '../database/database.service.js';
import { type CountMode, encodeCursor, orderBy, planList, whereClause } from './query.js';
import { type FieldSpec, type ResourceSpec, ident } from './resource.js';

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

const MAX_BULK = 1000;

/**
 * SQL for one resource, built from its spec: identifiers from the spec (quoted), values as
 * parameters. Generated repositories extend this with their spec.
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

  /** `"a" = $1 AND "b" = $2` for the key, appending to `params`. */
  private keyWhere(key: KeyValues, params: unknown[]): string {
    if (this.spec.key.length === 0) throw new NotFoundException(`${this.spec.name} rows have no key`);
    return this.spec.key
      .map((p) => {
        const f = this.field(p);
        const v = key[p];
        if (v === undefined) throw new BadRequestException(`missing key ${p}`);
        params.push(v);
        return `${ident(f.column)} = $${params.length}::${f.sqlType}`;
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
    const params = [...plan.params, plan.limit + 1, plan.offset];
    const ctidCol = plan.ctid ? ', ctid::text AS "__ctid"' : '';
    const sql =
      `SELECT ${this.selectList}${ctidCol} FROM ${this.spec.table}${whereClause(plan.where)}` +
      ` ORDER BY ${orderBy(plan)} LIMIT $${params.length - 1} OFFSET $${params.length}`;
    const rows = (await db.query(sql, params)).rows as Row[];
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
    if (plan.count !== 'none') meta.count = await this.count(plan.count, plan.countWhere, plan.countParams, db);
    return { data: rows.map((r) => this.toApi(r)), meta };
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
    const params: unknown[] = [];
    const conds = [this.keyWhere(key, params), ...(options.withDeleted ? [] : this.notDeleted())];
    const r = await db.query(`SELECT ${this.selectList} FROM ${this.spec.table} WHERE ${conds.join(' AND ')}`, params);
    if (r.rows.length === 0) throw new NotFoundException(`${this.spec.name} not found`);
    return this.toApi(r.rows[0] as Row);
  }

  private writableEntries(dto: object): [FieldSpec, unknown][] {
    const out: [FieldSpec, unknown][] = [];
    for (const [prop, value] of Object.entries(dto)) {
      if (value === undefined) continue;
      const f = this.byProperty.get(prop);
      if (!f || !f.writable) throw new BadRequestException(`property ${prop} cannot be set`);
      out.push([f, this.toParam(f, value)]);
    }
    return out;
  }

  /** Insert one row. `server` sets columns clients may not (by column name), e.g. a password hash. */
  async create(dto: object, db: Queryable = this.db, server: Record<string, unknown> = {}): Promise<T> {
    const entries = this.writableEntries(dto);
    for (const [column, value] of Object.entries(server)) {
      const f = this.spec.fields.find((x) => x.column === column);
      if (!f) throw new Error(`unknown column ${column}`);
      entries.push([f, this.toParam(f, value)]);
    }
    const params = entries.map(([, v]) => v);
    const sql = entries.length
      ? `INSERT INTO ${this.spec.table} (${entries.map(([f]) => ident(f.column)).join(', ')}) VALUES (${entries.map((_, i) => `$${i + 1}`).join(', ')})`
      : `INSERT INTO ${this.spec.table} DEFAULT VALUES`;
    const r = await db.query(`${sql} RETURNING ${this.selectList}`, params);
    return this.toApi(r.rows[0] as Row);
  }

  /** All rows or none: one INSERT statement. */
  async createMany(dtos: object[], db: Queryable = this.db): Promise<T[]> {
    if (dtos.length === 0) throw new BadRequestException('send at least one row');
    if (dtos.length > MAX_BULK) throw new BadRequestException(`send at most ${MAX_BULK} rows at once`);
    const rows = dtos.map((d) => new Map(this.writableEntries(d).map(([f, v]) => [f.column, v])));
    const columns = [...new Set(rows.flatMap((r) => [...r.keys()]))];
    if (columns.length === 0) {
      const out: T[] = [];
      for (let i = 0; i < rows.length; i++) out.push(await this.create({}, db));
      return out;
    }
    const params: unknown[] = [];
    const values = rows.map(
      (r) =>
        `(${columns
          .map((c) => {
            if (!r.has(c)) return 'DEFAULT';
            params.push(r.get(c));
            return `$${params.length}`;
          })
          .join(', ')})`,
    );
    const sql = `INSERT INTO ${this.spec.table} (${columns.map(ident).join(', ')}) VALUES ${values.join(', ')} RETURNING ${this.selectList}`;
    return (await db.query(sql, params)).rows.map((r) => this.toApi(r as Row));
  }

  async update(key: KeyValues, dto: object, db: Queryable = this.db): Promise<T> {
    const entries = this.writableEntries(dto);
    if (entries.length === 0) throw new BadRequestException('send at least one field to change');
    const params: unknown[] = entries.map(([, v]) => v);
    const sets = entries.map(([f], i) => `${ident(f.column)} = $${i + 1}`);
    if (this.spec.updatedAtColumn && !entries.some(([f]) => f.column === this.spec.updatedAtColumn)) {
      sets.push(`${ident(this.spec.updatedAtColumn)} = now()`);
    }
    const conds = [this.keyWhere(key, params), ...this.notDeleted()];
    const r = await db.query(`UPDATE ${this.spec.table} SET ${sets.join(', ')} WHERE ${conds.join(' AND ')} RETURNING ${this.selectList}`, params);
    if (r.rows.length === 0) throw new NotFoundException(`${this.spec.name} not found`);
    return this.toApi(r.rows[0] as Row);
  }

  /** Soft delete where the table has a deleted_at column, hard delete otherwise. */
  async remove(key: KeyValues, db: Queryable = this.db): Promise<void> {
    const params: unknown[] = [];
    const keyWhere = this.keyWhere(key, params);
    const r = this.spec.softDeleteColumn
      ? await db.query(
          `UPDATE ${this.spec.table} SET ${ident(this.spec.softDeleteColumn)} = now()${this.spec.updatedAtColumn ? `, ${ident(this.spec.updatedAtColumn)} = now()` : ''} WHERE ${keyWhere} AND ${ident(this.spec.softDeleteColumn)} IS NULL`,
          params,
        )
      : await db.query(`DELETE FROM ${this.spec.table} WHERE ${keyWhere}`, params);
    if (r.rowCount === 0) throw new NotFoundException(`${this.spec.name} not found`);
  }

  async restore(key: KeyValues, db: Queryable = this.db): Promise<T> {
    const column = this.spec.softDeleteColumn;
    if (!column) throw new NotFoundException(`${this.spec.name} rows are not soft-deleted`);
    const params: unknown[] = [];
    const keyWhere = this.keyWhere(key, params);
    const r = await db.query(
      `UPDATE ${this.spec.table} SET ${ident(column)} = NULL${this.spec.updatedAtColumn ? `, ${ident(this.spec.updatedAtColumn)} = now()` : ''} WHERE ${keyWhere} AND ${ident(column)} IS NOT NULL RETURNING ${this.selectList}`,
      params,
    );
    if (r.rows.length === 0) throw new NotFoundException(`no deleted ${this.spec.name} with that key`);
    return this.toApi(r.rows[0] as Row);
  }
}
