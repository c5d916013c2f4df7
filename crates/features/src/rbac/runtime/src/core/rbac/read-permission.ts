import { ForbiddenException } from '@nestjs/common';
import type { CrudCall, CrudExtension } from '../crud/extension.js';
import { failClosed } from '../http/fail-closed.js';
import type { PermissionChecker } from './permission.decorator.js';

let checker: PermissionChecker | undefined;

/** How embeds check permissions (RbacService registers itself). */
export function usePermissionChecker(c: PermissionChecker): void {
  checker = c;
}

/**
 * The permission a resource's own list route requires (`<resource>:read`), required too when its
 * rows are embedded in another resource's answer (`select=*,projects(...)`): without it, 403.
 */
export class ReadPermission implements CrudExtension {
  constructor(private readonly spec: { permission: string }) {}

  begin(): undefined {
    return undefined;
  }

  async embed({ ctx }: CrudCall): Promise<void> {
    const user = ctx?.userId;
    const c = checker;
    const allowed =
      user !== undefined && c !== undefined && (await failClosed('the permission check', () => c.can(user, this.spec.permission)));
    if (!allowed) throw new ForbiddenException(`embedding these rows requires permission ${this.spec.permission}`);
  }
}

export const readPermission = (spec: { permission: string }): ReadPermission => new ReadPermission(spec);
