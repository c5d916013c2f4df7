import type { CrudExtension } from './extension.js';
import type { SearchSpec } from './search.js';

/**
 * What a generated resource looks like to the shared CRUD runtime: its table, its fields and
 * what clients may do with each. Specs are generated from the database schema; SQL identifiers
 * come only from here, and every value a client sends travels as a query parameter.
 */
export type FieldKind =
  | 'uuid'
  | 'text'
  | 'int'
  | 'bigint'
  | 'decimal'
  | 'float'
  | 'bool'
  | 'date'
  | 'timestamp'
  | 'time'
  | 'json'
  | 'bytes'
  | 'interval'
  | 'enum'
  | 'other';

export type FilterOp = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte' | 'like' | 'ilike' | 'in' | 'is' | 'cs' | 'cd' | 'ov';

export interface FieldSpec {
  /** SQL column name. */
  readonly column: string;
  /** JSON property name. */
  readonly property: string;
  /** Query parameter that filters on the field. */
  readonly filterKey: string;
  readonly kind: FieldKind;
  readonly array: boolean;
  readonly nullable: boolean;
  /** SQL type, for casts of parameters (e.g. `uuid`, `character varying(20)`). */
  readonly sqlType: string;
  readonly ops: readonly FilterOp[];
  readonly sortable: boolean;
  /** False for write-only and hidden fields: never selected, never returned. */
  readonly readable: boolean;
  /** Clients may set it on create / update. */
  readonly writable: boolean;
  /** Cast when selecting (arrays of enums come back as text[], which node-postgres parses). */
  readonly readCast?: string;
  /** Allowed values (enums, CHECK ... IN). */
  readonly values?: readonly string[];
  /**
   * Set by the server from the signed-in user, never by the client: on `create`, on every
   * `update` (and create), on `delete` (soft delete); `self`: clients may set it only to their
   * own id (or null).
   */
  readonly server?: 'create' | 'update' | 'delete' | 'self';
  /** Only callers an extension allows (e.g. those who may change every row) may set it: an account's status, role, plan. Nobody, without such an extension. */
  readonly privileged?: boolean;
}

/**
 * A foreign key seen from one side, for `select=` embeds: rows of `target` that this row
 * references (`one`: this table holds the key) or that reference it (`many`).
 */
export interface RelationSpec {
  /** The embed's name in `select=` and in answers (`organization`, `projects`). */
  readonly name: string;
  readonly kind: 'one' | 'many';
  /** The related resource's quoted table name (its spec is found with resourceOf). */
  readonly target: string;
  /** The related resource's plural name (`projects`): `projects!<constraint>(...)` picks one of several keys by its name. */
  readonly targetName: string;
  /** The foreign key's constraint name. */
  readonly constraint: string;
  /** Pairs of (this table's column, the related table's column). */
  readonly columns: readonly (readonly [string, string])[];
}

export interface ResourceSpec {
  /** Quoted, schema-qualified table name. */
  readonly table: string;
  /** Human name, for messages. */
  readonly name: string;
  readonly fields: readonly FieldSpec[];
  /** Changes (PATCH, DELETE, restore) need If-Match: 428 without it (`require_if_match` in the config). */
  readonly requireIfMatch?: boolean;
  /** Properties of the primary key, in key order; empty for tables without one. */
  readonly key: readonly string[];
  /** How keyset pagination breaks ties: the key, the row's ctid (append-only tables), or not at all (views). */
  readonly tieBreaker: 'key' | 'ctid' | 'none';
  /** Default sort when the client gives none (properties; `-` for descending). */
  readonly defaultSort: readonly string[];
  readonly softDeleteColumn?: string;
  readonly updatedAtColumn?: string;
  /** A creation timestamp the database has no default for: the app sets it on insert. */
  readonly createdAtColumn?: string;
  readonly defaultLimit: number;
  readonly maxLimit: number;
  readonly defaultCount: 'exact' | 'estimated' | 'none';
  /**
   * Features' hooks into every statement (row scopes, server-set columns, change recording), in
   * the order they apply. See extension.ts.
   */
  readonly extensions?: readonly CrudExtension[];
  /**
   * `false`: list and get take no `select=` (the `select` switch is off): their answers are whole
   * rows, typed as such in the OpenAPI document. Other resources may still embed its rows.
   */
  readonly select?: false;
  /** `q=`: how rows are searched (see search.ts); absent: `q` is a 400. */
  readonly search?: SearchSpec;
  /** Foreign keys to and from other resources of the API, for `select=` embeds. */
  readonly relations?: readonly RelationSpec[];
}

const registry = new Map<string, ResourceSpec>();

/** Make a spec known by its table, so other resources can embed its rows (generated specs call it). */
export function registerResource<S extends ResourceSpec>(spec: S): S {
  registry.set(spec.table, spec);
  return spec;
}

/** The spec of a resource of the API, by its quoted table name. */
export function resourceOf(table: string): ResourceSpec | undefined {
  return registry.get(table);
}

/** Quote an SQL identifier. Only ever called with names from a ResourceSpec. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const NAIVE_TIMESTAMP = 'timestamp without time zone';

/**
 * A parameter placeholder cast to a field's type. `timestamp without time zone` columns hold UTC
 * (the pool's session time zone): a value with an offset is converted to UTC, never cut off.
 */
export function typedParam(placeholder: string, sqlType: string, array = false): string {
  if (sqlType === NAIVE_TIMESTAMP) {
    return array
      ? `ARRAY(SELECT x AT TIME ZONE 'UTC' FROM unnest(${placeholder}::timestamptz[]) x)`
      : `(${placeholder}::timestamptz AT TIME ZONE 'UTC')`;
  }
  return `${placeholder}::${sqlType}${array && !sqlType.endsWith('[]') ? '[]' : ''}`;
}

/** The cast a written value needs: only naive timestamps (see typedParam); others take the column's type. */
export function writeCast(field: FieldSpec): string | undefined {
  return field.sqlType === NAIVE_TIMESTAMP ? NAIVE_TIMESTAMP : undefined;
}
