import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, Optional, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { requestContext } from '../http/request-context.js';
import { PERMISSION_CHECKER, type PermissionChecker, REQUIRED_PERMISSION } from '../rbac/permission.decorator.js';
import { TENANT_RESOLVER, TENANT_ROLES, TENANT_SCOPED, type TenantResolver } from '../tenancy/tenant.decorator.js';
import { AUTH_CONFIG, type AuthConfig } from './auth.config.js';
import { AuthService } from './auth.service.js';
import { verifyAccessToken } from './jwt.js';
import { IS_PUBLIC } from '../http/public.decorator.js';

export interface AuthUser {
  id: string;
  email: string;
}

export type AuthedRequest = FastifyRequest & { user?: AuthUser };

/**
 * Global guard, deny by default: every route needs a valid bearer access token unless it is
 * marked @Public(); a route with @RequirePermission() also needs that permission.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    private readonly auth: AuthService,
    @Optional() @Inject(PERMISSION_CHECKER) private readonly rbac?: PermissionChecker,
    @Optional() @Inject(TENANT_RESOLVER) private readonly tenancy?: TenantResolver,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization;
    const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (!token) throw new UnauthorizedException('sign in first: send Authorization: Bearer <access token>');
    const claims = await verifyAccessToken(this.config, token);
    if (!claims) throw new UnauthorizedException('the access token is invalid or expired');
    if (!(await this.auth.isActive(claims.sub))) throw new UnauthorizedException('the account is no longer active');
    req.user = { id: claims.sub, email: claims.email };
    const ctx = requestContext();
    if (ctx) {
      ctx.userId = claims.sub;
      ctx.email = claims.email;
    }
    const permission = this.reflector.getAllAndOverride<string | undefined>(REQUIRED_PERMISSION, targets);
    if (permission) {
      if (!this.rbac) throw new ForbiddenException(`requires ${permission}`);
      if (!(await this.rbac.can(claims.sub, permission))) {
        throw new ForbiddenException(`requires permission ${permission}`);
      }
    }
    if (this.reflector.getAllAndOverride<boolean>(TENANT_SCOPED, targets)) {
      if (!this.tenancy || !ctx) throw new ForbiddenException('tenancy is not configured');
      const header = req.headers['x-organization-id'];
      ctx.tenant = await this.tenancy.resolve({
        userId: claims.sub,
        email: claims.email,
        claimed: claims.org,
        header: typeof header === 'string' ? header : undefined,
        method: req.method,
        roles: this.reflector.getAllAndOverride<string[] | undefined>(TENANT_ROLES, targets),
      });
    }
    return true;
  }
}
