import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, Optional, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { PERMISSION_CHECKER, type PermissionChecker, REQUIRED_PERMISSION } from '../rbac/permission.decorator.js';
import { AUTH_CONFIG, type AuthConfig } from './auth.config.js';
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
    @Optional() @Inject(PERMISSION_CHECKER) private readonly rbac?: PermissionChecker,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization;
    const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (!token) throw new UnauthorizedException('sign in first: send Authorization: Bearer <access token>');
    const claims = await verifyAccessToken(this.config, token);
    if (!claims) throw new UnauthorizedException('the access token is invalid or expired');
    req.user = { id: claims.sub, email: claims.email };
    const permission = this.reflector.getAllAndOverride<string | undefined>(REQUIRED_PERMISSION, targets);
    if (permission) {
      if (!this.rbac) throw new ForbiddenException(`requires ${permission}`);
      if (!(await this.rbac.can(claims.sub, permission))) {
        throw new ForbiddenException(`requires permission ${permission}`);
      }
    }
    return true;
  }
}
