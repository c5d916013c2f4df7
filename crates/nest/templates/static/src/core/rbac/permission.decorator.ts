import { SetMetadata } from '@nestjs/common';

export const REQUIRED_PERMISSION = 'rbac:permission';

/** The permission (`resource:action`) a route requires; checked by the global AuthGuard. */
export const RequirePermission = (permission: string) => SetMetadata(REQUIRED_PERMISSION, permission);

/** What the guard asks for a permission check (provided by RbacModule). */
export interface PermissionChecker {
  can(userId: string, permission: string): Promise<boolean>;
  effective(userId: string): Promise<{ roles: string[]; permissions: string[]; superAdmin: boolean }>;
}

export const PERMISSION_CHECKER = Symbol('PERMISSION_CHECKER');
