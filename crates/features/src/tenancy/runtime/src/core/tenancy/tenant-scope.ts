import { ForbiddenException } from '@nestjs/common';
import type { CallScope, CrudCall, CrudExtension } from '../crud/extension.js';
import { ident } from '../crud/resource.js';

/** A tenant-scoped table: its tenant column, the column's type and the setting its policies read. */
export interface TenantScopeSpec {
  readonly column: string;
  readonly type: string;
  readonly setting: string;
}

/**
 * Rows belong to an organization. Every statement runs in a transaction that first sets the
 * request's tenant for row-level security, and also filters by the tenant column; inserts take
 * the tenant from the request, never from the client. A request without an organization is
 * refused.
 */
export class TenantScope implements CrudExtension {
  constructor(readonly spec: TenantScopeSpec) {}

  begin({ ctx }: CrudCall): CallScope {
    const tenant = ctx?.tenant;
    if (!tenant) throw new ForbiddenException('no organization for this request');
    return {
      settings: [
        [this.spec.setting, tenant],
        ['nestgen.user_id', ctx?.userId ?? ''],
      ],
      enforced: (bind) => [`${ident(this.spec.column)} = ${bind(tenant, this.spec.type)}`],
      insert: { [this.spec.column]: tenant },
    };
  }
}

export const tenantScope = (spec: TenantScopeSpec): TenantScope => new TenantScope(spec);
