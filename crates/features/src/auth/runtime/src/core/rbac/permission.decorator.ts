import { SetMetadata } from '@nestjs/common';

declare module '../http/request-context.js' {
  interface RequestContext {
    /** The caller holds the route's `<resource>:all` permission: the own-rows scope does not apply. */
    ownerBypass?: boolean;
  }
}

export const REQUIRED_PERMISSION = 'rbac:permission';
export const WITH_DELETED_PERMISSION = 'rbac:with-deleted';
export const OWNER_BYPASS = 'rbac:owner-bypass';

/** The permission (`resource:action`) a route requires; checked by the global AuthGuard. */
export const RequirePermission = (permission: string) => SetMetadata(REQUIRED_PERMISSION, permission);

/** Soft-deleted rows (`?withDeleted=true`) also need this permission (the resource's restore). */
export const WithDeletedPermission = (permission: string) => SetMetadata(WITH_DELETED_PERMISSION, permission);

/**
 * Rows of these routes are the caller's own (own-rows scope) unless the caller holds `bypass`
 * (`<resource>:all`); without RBAC nobody does.
 */
export const OwnerScoped = (bypass: string) => SetMetadata(OWNER_BYPASS, bypass);

/** What the guard asks for a permission check (provided by RbacModule). */
export interface PermissionChecker {
  can(userId: string, permission: string): Promise<boolean>;
  effective(userId: string): Promise<{ roles: string[]; permissions: string[]; superAdmin: boolean }>;
}

export const PERMISSION_CHECKER = Symbol('PERMISSION_CHECKER');
