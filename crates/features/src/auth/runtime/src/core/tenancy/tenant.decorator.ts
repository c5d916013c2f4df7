import { SetMetadata } from '@nestjs/common';

declare module '../http/request-context.js' {
  interface RequestContext {
    /** The tenant (organization) the request acts in, checked against the caller's membership. */
    tenant?: string;
    /** The caller's role in that tenant (owner, admin, member, ...), when known. */
    tenantRole?: string | null;
  }
}

export const TENANT_SCOPED = 'tenancy:scoped';
export const TENANT_OPTIONAL = 'tenancy:optional';
export const TENANT_ROLES = 'tenancy:roles';

/** Routes of a tenant-scoped table: the request must act in one organization the caller belongs to. */
export const TenantScoped = () => SetMetadata(TENANT_SCOPED, true);

/**
 * Routes that use the caller's organization when there is one (the users table: owners and admins
 * read their members), and work without it.
 */
export const TenantOptional = () => SetMetadata(TENANT_OPTIONAL, true);

/** Routes only some members of the organization may call (e.g. owner and admin manage members). */
export const TenantRoles = (...roles: string[]) => SetMetadata(TENANT_ROLES, roles);

/** The organization a request acts in, and the caller's role in it (null for cross-tenant access). */
export interface ResolvedTenant {
  tenant: string;
  role: string | null;
}

/** Resolves and checks the tenant of a request (provided by TenancyModule). */
export interface TenantResolver {
  /** The organization to act in, after every check; throws 403 otherwise. */
  resolve(input: { userId: string; claimed?: string; header?: string; method: string; roles?: string[] }): Promise<ResolvedTenant>;
  /** Default organization for a user who signs in (their first active membership). */
  defaultTenant(userId: string): Promise<string | undefined>;
}

export const TENANT_RESOLVER = Symbol('TENANT_RESOLVER');
