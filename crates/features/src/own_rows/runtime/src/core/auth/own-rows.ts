import type { CallScope, CrudCall, CrudExtension } from '../crud/extension.js';
import { ident } from '../crud/resource.js';
import { systemSetting } from '../database/database.service.js';

// The app's own work (projections, jobs) writes rows for whoever they belong to.
systemSetting('nestgen.owner_bypass', 'on');

/**
 * Own rows: a caller reads and changes only rows whose `column` is their user id, unless they
 * hold `bypass` (`<resource>:all`). `self`: the users table (the column is the key). `rls`:
 * row-level security enforces the same (the app sets `nestgen.user_id` and
 * `nestgen.owner_bypass` per transaction). `members`: owners and admins of the caller's tenant
 * also read the users who are members of it (an SQL condition over the users table; `$T` is the
 * tenant, `$R` the users row as the statement names it, `table` the users table, `setting` the
 * tenant's row-level security setting).
 */
export interface OwnRowsSpec {
  readonly column: string;
  readonly type: string;
  readonly bypass: string;
  readonly self: boolean;
  readonly rls: boolean;
  readonly members?: { readonly sql: string; readonly setting: string; readonly type: string; readonly table: string };
}

export class OwnRows implements CrudExtension {
  constructor(readonly spec: OwnRowsSpec) {}

  begin({ ctx, unscoped, embedded }: CrudCall): CallScope {
    const o = this.spec;
    // The route's `<resource>:all` decision is about its own resource, never about rows embedded in its answer.
    const bypass = unscoped || (!embedded && ctx?.ownerBypass === true);
    const userId = ctx?.userId ?? null;
    // Owners and admins of the caller's tenant also read the accounts of its members.
    const membersOf =
      o.members && !bypass && ctx?.tenant && (ctx.tenantRole === 'owner' || ctx.tenantRole === 'admin') ? ctx.tenant : undefined;
    const settings: [string, string][] = [];
    if (membersOf && o.members) settings.push([o.members.setting, membersOf]);
    if (o.rls || membersOf) settings.push(['nestgen.user_id', ctx?.userId ?? '']);
    if (o.rls) settings.push(['nestgen.owner_bypass', bypass ? 'on' : '']);
    return {
      settings,
      enforced: (bind) => (o.rls && !bypass ? [`${ident(o.column)} = ${bind(userId, o.type)}`] : []),
      // The users table's own-row scope has no row-level security behind it (sign-in reads
      // accounts before anyone is known): the app's condition is the only one.
      where: (bind, mode, row) => {
        if (o.rls || bypass) return [];
        const mine = `${ident(o.column)} = ${bind(userId, o.type)}`;
        if (mode === 'read' && membersOf && o.members) {
          // `$R`: the users row as the statement names it (an alias, or the table).
          const members = o.members.sql.replaceAll('$R', row ?? o.members.table).replaceAll('$T', bind(membersOf, o.members.type));
          return [`(${mine} OR ${members})`];
        }
        return [mine];
      },
    };
  }

  privileged(ctx: CrudCall['ctx']): { allowed: boolean; permission: string } {
    return { allowed: ctx?.ownerBypass === true, permission: this.spec.bypass };
  }
}

export const ownRows = (spec: OwnRowsSpec): OwnRows => new OwnRows(spec);
