import type { Queryable } from '../database/database.service.js';
import type { RequestContext } from '../http/request-context.js';

/** Adds a `$n` parameter to a statement and returns its placeholder (cast to `cast` when given). */
export type Bind = (value: unknown, cast?: string) => string;

/** What a change is. */
export type ChangeOp = 'INSERT' | 'UPDATE' | 'DELETE' | 'RESTORE';

/** One changed row, as PostgreSQL's own to_jsonb() text (no JavaScript number ever rounds a value). */
export interface RowChange {
  old?: string;
  new?: string;
}

/** One repository call, as an extension sees it. */
export interface CrudCall {
  readonly ctx: RequestContext | undefined;
  /** The change, when the call writes. */
  readonly op?: ChangeOp;
  /** A change the server makes on its own behalf (sign-in flows): not limited to the caller's rows. */
  readonly unscoped: boolean;
  /**
   * The rows are read as another resource's embed (`select=*,projects(...)`): what the route
   * decided for its own resource (an owner bypass) does not carry over.
   */
  readonly embedded?: boolean;
}

/** An extension's part in one call. Every member is optional. */
export interface CallScope {
  /**
   * Settings the call's statements run under: set with `set_config(name, value, true)` (SET LOCAL)
   * in a transaction around the call, so nothing survives on the pooled connection. Row-level
   * security policies and triggers read them.
   */
  readonly settings?: readonly (readonly [string, string])[];
  /**
   * Conditions the database also enforces (row-level security): the app adds them to every
   * statement too and never relies on the policies alone. The tests drop exactly these
   * (CrudRepository.enforcedFilters) to attack the policies by themselves.
   */
  enforced?(bind: Bind): string[];
  /**
   * Conditions only the app applies; `mode` says whether the statement reads or changes rows;
   * `row` is how the statement names the resource's table (its alias, or the quoted table), for
   * conditions that look at other tables and must name this row.
   */
  where?(bind: Bind, mode: 'read' | 'write', row?: string): string[];
  /** Columns the server sets on insert, by column name (never from the client). */
  readonly insert?: Readonly<Record<string, unknown>>;
  /**
   * Told every changed row, in the change's own transaction (a failure undoes the change). The
   * repository then reads each row's old values (locked) and new values for it.
   */
  record?(q: Queryable, op: ChangeOp, changes: RowChange[]): Promise<void>;
}

/**
 * A feature's hook into every statement of one resource: row scopes (whose rows a caller sees),
 * server-set columns, change recording. Specs list their extensions; the CRUD runtime knows
 * only this interface.
 */
export interface CrudExtension {
  /** This call's part, or undefined for none. May refuse the call (throw an HTTP exception). */
  begin(call: CrudCall): CallScope | undefined;
  /**
   * Whether the caller may set privileged fields (an account's status, role, plan), and the
   * permission that allows it. Without an extension that allows it, nobody may.
   */
  privileged?(ctx: RequestContext | undefined): { allowed: boolean; permission: string };
  /**
   * A read of the resource's rows outside any transaction (a list page, one row): `key` is
   * everything the answer depends on besides the rows themselves (the statements, their
   * parameters, the settings they run under); `load` runs them. An extension may answer from
   * elsewhere (a cache) and must call `load` whenever it cannot.
   */
  read?<R>(key: readonly unknown[], load: () => Promise<R>): Promise<R>;
  /** After a change of the resource's rows is committed (the change's answer waits for it). */
  committed?(): Promise<void>;
  /**
   * Before the resource's rows are embedded in another resource's answer (`select=`): throws
   * (e.g. 403) when the caller may not read them, as the resource's own list route would.
   */
  embed?(call: CrudCall): Promise<void>;
}

/** The extension of `spec` that is an instance of `kind`, if any. */
export function extensionOf<E extends CrudExtension>(
  spec: { readonly extensions?: readonly CrudExtension[] },
  kind: abstract new (...args: never[]) => E,
): E | undefined {
  return spec.extensions?.find((e): e is E => e instanceof kind);
}
