import { BadRequestException } from '@nestjs/common';
import type { Bind, CallScope, CrudCall } from './extension.js';
import { type SortKey, bad, condition, fieldByKey, parseLimit, parseSort } from './query.js';
import { type FieldSpec, type RelationSpec, type ResourceSpec, ident, resourceOf } from './resource.js';

/**
 * `select=`: which fields an answer carries, and rows of related resources embedded in it
 * through foreign keys, PostgREST style:
 *   ?select=id,name                         only these fields
 *   ?select=*,organization(name,slug)       every field, and the row the key points to (or null)
 *   ?select=*,projects(id,name)             rows that point here (an array, `projects.limit` /
 *                                           `projects.sort` per embed; default the resource's list)
 *   ?select=*,projects(id,tasks(id))        nested, up to three levels
 *   ?select=*,files!files_owner_id_fkey(id) one of several keys to the same table, by its name
 *   &organization.slug=eq.acme              a to-one embed's field filters the rows themselves;
 *   &projects.status=eq.active              a to-many embed's field filters the embedded rows
 * Only readable fields can be selected (never secrets). Every embedded resource is read as its
 * own list route would read it: its row scopes (tenancy, own rows), row-level security and its
 * read permission apply (403 when the caller lacks it); soft-deleted rows are left out. The
 * whole answer is one SQL statement (correlated subqueries building JSON), never one per row.
 */
export interface Selection {
  readonly spec: ResourceSpec;
  /** Fields the answer carries. */
  readonly fields: FieldSpec[];
  readonly embeds: Embed[];
}

export interface Embed {
  /** `projects`, `projects.tasks`: where its query parameters live. */
  readonly path: string;
  readonly relation: RelationSpec;
  readonly selection: Selection;
  sort?: SortKey[];
  limit?: number;
  /** Conditions on the embedded resource's fields (`<path>.<field>=op.value`). */
  readonly filters: [FieldSpec, string][];
}

const MAX_DEPTH = 3;
const MAX_LENGTH = 2000;

/** Split `a,b(c,d),e` at its top-level commas. */
function items(raw: string, where: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth < 0) bad(`${where}: a ")" without its "("`);
    } else if (c === ',' && depth === 0) {
      out.push(raw.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (depth !== 0) bad(`${where}: a "(" without its ")"`);
  out.push(raw.slice(start).trim());
  if (out.some((s) => s === '')) bad(`${where}: an empty item (write select=id,name)`);
  return out;
}

function relationOf(spec: ResourceSpec, name: string, constraint: string | undefined, where: string): RelationSpec {
  const rels = spec.relations ?? [];
  const found = constraint
    ? rels.find((r) => (r.targetName === name || r.name === name) && r.constraint === constraint)
    : (rels.find((r) => r.name === name) ??
      onlyOne(
        rels.filter((r) => r.targetName === name),
        name,
        where,
      ));
  if (!found) {
    const known = rels.map((r) => r.name);
    bad(
      `${where}: "${name}${constraint ? `!${constraint}` : ''}" is not related to ${spec.name}${known.length ? `; embed ${known.join(', ')}` : ''}`,
    );
  }
  return found;
}

function onlyOne(rels: RelationSpec[], name: string, where: string): RelationSpec | undefined {
  if (rels.length > 1) {
    bad(
      `${where}: ${name} is related in ${rels.length} ways; name one: ${rels.map((r) => `${r.name} or ${name}!${r.constraint}`).join('; ')}`,
    );
  }
  return rels[0];
}

function parseSelection(spec: ResourceSpec, raw: string, path: string, depth: number, embeds: Map<string, Embed>): Selection {
  const where = path ? `select ${path}` : 'select';
  const fields: FieldSpec[] = [];
  const out: Embed[] = [];
  const readable = spec.fields.filter((f) => f.readable);
  for (const item of items(raw, where)) {
    if (item === '*') {
      for (const f of readable) if (!fields.includes(f)) fields.push(f);
      continue;
    }
    const open = item.indexOf('(');
    if (open < 0) {
      const f = fieldByKey(spec, item);
      if (!f || !f.readable) {
        bad(`${where}: "${item}" is not a field of ${spec.name}; use ${readable.map((x) => x.property).join(', ')}, * or an embed`);
      }
      if (!fields.includes(f)) fields.push(f);
      continue;
    }
    if (!item.endsWith(')')) bad(`${where}: write name(fields), e.g. ${item.slice(0, open)}(*)`);
    const [name, constraint, extra] = item.slice(0, open).trim().split('!');
    if (extra !== undefined || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) bad(`${where}: "${item.slice(0, open)}" is not an embed name`);
    if (depth >= MAX_DEPTH) bad(`${where}: embeds nest at most ${MAX_DEPTH} levels`);
    const relation = relationOf(spec, name, constraint, where);
    const target = resourceOf(relation.target);
    if (!target) bad(`${where}: ${name} is not served by this API`);
    const sub = path ? `${path}.${relation.name}` : relation.name;
    if (embeds.has(sub)) bad(`${where}: ${relation.name} is embedded twice`);
    const embed: Embed = { path: sub, relation, selection: { spec: target, fields: [], embeds: [] }, filters: [] };
    embeds.set(sub, embed);
    (embed as { selection: Selection }).selection = parseSelection(target, item.slice(open + 1, -1), sub, depth + 1, embeds);
    out.push(embed);
  }
  return { spec, fields, embeds: out };
}

/**
 * Parse `select` and the embeds' own parameters (`<path>.limit`, `<path>.sort`,
 * `<path>.<field>`); returns the selection and the query without those parameters (for the
 * resource's own list parsing). No `select`: every readable field, no embeds.
 */
export function parseSelect(spec: ResourceSpec, query: Record<string, unknown>): { selection: Selection; rest: Record<string, unknown> } {
  const raw = query.select;
  // The common case, without select or embed parameters: every readable field (made once).
  if (raw === undefined && !Object.keys(query).some((k) => k.includes('.'))) return { selection: whole(spec), rest: query };
  if (raw !== undefined && spec.select === false) bad(`select: ${spec.name} answers whole rows here (the select switch is off)`);
  if (Array.isArray(raw)) bad('select may be given once');
  if (raw !== undefined && typeof raw !== 'string') bad('select must be a string');
  if (typeof raw === 'string' && raw.length > MAX_LENGTH) bad(`select: at most ${MAX_LENGTH} characters`);
  const embeds = new Map<string, Embed>();
  const selection = raw === undefined || raw === '' ? whole(spec) : parseSelection(spec, raw, '', 0, embeds);
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) {
    const dot = key.lastIndexOf('.');
    if (dot < 0) {
      rest[key] = value;
      continue;
    }
    const embed = embeds.get(key.slice(0, dot));
    const name = key.slice(dot + 1);
    if (!embed) bad(`"${key}": ${key.slice(0, dot)} is not embedded (add it to select)`);
    const values = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v !== 'string')) bad(`${key} must be a string`);
    const target = embed.selection.spec;
    if (name === 'limit' || name === 'sort') {
      if (embed.relation.kind === 'one') bad(`${key}: ${embed.path} is one row; limit and sort apply to embedded lists`);
      if (values.length > 1) bad(`${key} may be given once`);
      const v = values[0] as string;
      if (name === 'sort') embed.sort = parseSort(target, v);
      else embed.limit = parseLimit(target, v, key);
      continue;
    }
    const field = fieldByKey(target, name);
    if (!field || field.ops.length === 0) bad(`"${key}": ${name} is not a filterable field of ${target.name}`);
    // A to-one embed's filter narrows the rows that embed it: the answer's own rows only.
    if (embed.relation.kind === 'one' && embed.path.includes('.')) {
      bad(
        `"${key}": filters on ${embed.path} would narrow embedded rows by a row they embed; filter a list's own rows or an embedded list`,
      );
    }
    for (const v of values) embed.filters.push([field, v as string]);
  }
  return { selection, rest };
}

const wholeRows = new WeakMap<ResourceSpec, Selection>();

/** Every readable field, no embeds: the answer without `select`. */
function whole(spec: ResourceSpec): Selection {
  let s = wholeRows.get(spec);
  if (!s) {
    s = { spec, fields: spec.fields.filter((f) => f.readable), embeds: [] };
    wholeRows.set(spec, s);
  }
  return s;
}

/** Every embed of a selection, nested ones too. */
export function allEmbeds(selection: Selection): Embed[] {
  return selection.embeds.flatMap((e) => [e, ...allEmbeds(e.selection)]);
}

/** Ask every embedded resource's extensions whether the caller may read it (they throw if not). */
export async function checkEmbeds(selection: Selection, call: CrudCall): Promise<void> {
  for (const e of allEmbeds(selection)) {
    for (const x of e.selection.spec.extensions ?? []) await x.embed?.({ ...call, embedded: true });
  }
}

/** An SQL string literal of a name from a spec (never client input). */
function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * A field as it goes into JSON built by PostgreSQL, the same text the API gives for it on its
 * own: big numbers as strings (no rounding in JSON), bytes as base64, timestamps without time
 * zone (kept in UTC) with a Z.
 */
function jsonValue(alias: string, f: FieldSpec): string {
  const col = `${alias}.${ident(f.column)}`;
  if (f.readCast) return `${col}::${f.readCast}`;
  if (f.kind === 'bigint' || f.kind === 'decimal' || f.sqlType === 'money') return f.array ? `${col}::text[]` : `${col}::text`;
  if (f.kind === 'bytes' && !f.array) return `encode(${col}, 'base64')`;
  if (f.sqlType === 'timestamp without time zone') {
    return `CASE WHEN ${col}::text ~ '^[0-9]' THEN replace(${col}::text, ' ', 'T') || 'Z' ELSE ${col}::text END`;
  }
  return col;
}

/** `json_build_object(...)` of name/value pairs (in chunks: PostgreSQL takes 100 arguments at most). */
function jsonObject(pairs: [string, string][]): string {
  if (pairs.length === 0) return "'{}'::json";
  const chunks: string[] = [];
  for (let i = 0; i < pairs.length; i += 50) {
    chunks.push(
      `json_build_object(${pairs
        .slice(i, i + 50)
        .map(([k, v]) => `${literal(k)}, ${v}`)
        .join(', ')})`,
    );
  }
  return chunks.length === 1 ? chunks[0] : `(${chunks.map((c) => `${c}::jsonb`).join(' || ')})::json`;
}

/**
 * The conditions of extensions' parts for a statement's row named `row`: the repository's own
 * (CrudRepository.conditions), so what applies to a resource's rows applies to them embedded too.
 */
export type Conditions = (parts: readonly CallScope[], bind: Bind, mode: 'read' | 'write', row: string) => string[];

/** Conditions and settings of one embedded resource in this call (its extensions' row scopes). */
function embedScope(
  spec: ResourceSpec,
  call: CrudCall,
  bind: Bind,
  settings: Map<string, string>,
  conditions: Conditions,
  path: string,
  alias: string,
): string[] {
  const parts: CallScope[] = [];
  for (const e of spec.extensions ?? []) {
    const part = e.begin({ ...call, embedded: true, op: undefined });
    if (part) parts.push(part);
  }
  for (const p of parts) {
    for (const [name, value] of p.settings ?? []) {
      const had = settings.get(name);
      if (had !== undefined && had !== value) {
        throw new BadRequestException(
          `select ${path}: ${spec.name} rows are read under other rules than this route's; read them from their own route`,
        );
      }
      settings.set(name, value);
    }
  }
  const conds = conditions(parts, bind, 'read', alias);
  if (spec.softDeleteColumn) conds.push(`${ident(spec.softDeleteColumn)} IS NULL`);
  return conds;
}

/** Builds the embeds' SQL for one statement; `n` numbers the table aliases. */
export class EmbedSql {
  private n = 0;
  constructor(
    private readonly call: CrudCall,
    private readonly bind: Bind,
    /** The statement's settings: embeds add theirs (a conflicting value is a 400). */
    readonly settings: Map<string, string>,
    private readonly conditions: Conditions,
  ) {}

  /** `expr AS "name"` for each embed of `selection`, read from the row aliased `alias`. */
  columns(selection: Selection, alias: string): string[] {
    return selection.embeds.map((e) => `${this.subquery(e, alias)} AS ${ident(e.relation.name)}`);
  }

  /** The JSON object of the selected fields and embeds of a row aliased `alias`. */
  private object(selection: Selection, alias: string): string {
    const pairs: [string, string][] = selection.fields.map((f) => [f.property, jsonValue(alias, f)]);
    for (const e of selection.embeds) pairs.push([e.relation.name, this.subquery(e, alias)]);
    return jsonObject(pairs);
  }

  private join(e: Embed, alias: string, from: string): string[] {
    return e.relation.columns.map(([mine, theirs]) => `${alias}.${ident(theirs)} = ${from}.${ident(mine)}`);
  }

  private subquery(e: Embed, from: string): string {
    const alias = `__e${++this.n}`;
    const spec = e.selection.spec;
    const conds = [...this.join(e, alias, from), ...embedScope(spec, this.call, this.bind, this.settings, this.conditions, e.path, alias)];
    const params = { add: (v: unknown) => this.bind(v) };
    if (e.relation.kind === 'one') {
      return `(SELECT ${this.object(e.selection, alias)} FROM ${spec.table} AS ${alias} WHERE ${conds.join(' AND ')} LIMIT 1)`;
    }
    for (const [field, raw] of e.filters) conds.push(condition(field, raw, params));
    const sort = e.sort ?? parseSort(spec, undefined);
    const order = sort.map((k) => `${alias}.${ident(k.field.column)} ${k.desc ? 'DESC NULLS FIRST' : 'ASC NULLS LAST'}`).join(', ') || '1';
    const limit = this.bind(e.limit ?? spec.defaultLimit);
    // The page of rows first (a top-n sort on the keys), then their JSON: built for the rows
    // kept, not for every related row (a nested embed would run once per related row). The
    // page keeps the table's alias, so the object and the order read it as the table.
    return (
      `(SELECT COALESCE(json_agg(${this.object(e.selection, alias)} ORDER BY ${order}), '[]'::json) ` +
      `FROM (SELECT * FROM ${spec.table} AS ${alias} WHERE ${conds.join(' AND ')} ORDER BY ${order} LIMIT ${limit}) AS ${alias})`
    );
  }

  /**
   * Conditions on the rows themselves from their to-one embeds' filters
   * (`organization.slug=eq.acme`): the related row exists, may be read, and matches.
   */
  rootFilters(selection: Selection, alias: string): string[] {
    const out: string[] = [];
    for (const e of selection.embeds) {
      if (e.relation.kind !== 'one' || e.filters.length === 0) continue;
      const a = `__f${++this.n}`;
      const spec = e.selection.spec;
      const params = { add: (v: unknown) => this.bind(v) };
      const conds = [...this.join(e, a, alias), ...embedScope(spec, this.call, this.bind, this.settings, this.conditions, e.path, a)];
      for (const [field, raw] of e.filters) conds.push(condition(field, raw, params));
      out.push(`EXISTS (SELECT 1 FROM ${spec.table} AS ${a} WHERE ${conds.join(' AND ')})`);
    }
    return out;
  }
}
