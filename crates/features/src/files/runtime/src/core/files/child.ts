import type { CallScope, CrudCall, CrudExtension } from '../crud/extension.js';
import { ident, type ResourceSpec } from '../crud/resource.js';

/**
 * A table of versions or share links of a file store: its rows are seen and changed with their
 * file. The file table's own scopes (owner, tenant) run for the call — their settings are set for
 * row-level security (db/09-files.sql checks the reference the same way) — and every statement
 * keeps to rows whose `column` names a file those scopes let the caller see.
 */
export class FileChild implements CrudExtension {
  private readonly key: string;

  constructor(
    private readonly parent: ResourceSpec,
    private readonly column: string,
  ) {
    const property = parent.key[0];
    this.key = parent.fields.find((f) => f.property === property)?.column ?? property;
  }

  private within(conds: string[]): string[] {
    if (conds.length === 0) return [];
    return [`${ident(this.column)} IN (SELECT ${ident(this.key)} FROM ${this.parent.table} WHERE ${conds.join(' AND ')})`];
  }

  begin(call: CrudCall): CallScope {
    const parts = (this.parent.extensions ?? []).map((e) => e.begin(call)).filter((p): p is CallScope => p !== undefined);
    return {
      settings: parts.flatMap((p) => p.settings ?? []),
      enforced: (bind) => this.within(parts.flatMap((p) => p.enforced?.(bind) ?? [])),
      where: (bind, mode) => this.within(parts.flatMap((p) => p.where?.(bind, mode, this.parent.table) ?? [])),
    };
  }
}
