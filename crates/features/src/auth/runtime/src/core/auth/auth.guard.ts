import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, Optional, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { failClosed } from '../http/fail-closed.js';
import { requestContext } from '../http/request-context.js';
import {
  OWNER_BYPASS,
  PERMISSION_CHECKER,
  type PermissionChecker,
  REQUIRED_PERMISSION,
  WITH_DELETED_PERMISSION,
} from '../rbac/permission.decorator.js';
import { TENANT_OPTIONAL, TENANT_RESOLVER, TENANT_ROLES, TENANT_SCOPED, type TenantResolver } from '../tenancy/tenant.decorator.js';
import { AUTH_CONFIG, type AuthConfig } from './auth.config.js';
import { AuthService } from './auth.service.js';
import { bearerToken, verifyAccessToken } from './jwt.js';
import { IS_PUBLIC } from '../http/public.decorator.js';

export interface AuthUser {
  id: string;
  /** The account's current email (from the database, not the token). */
  email: string;
  /** The email address is verified (memberships by email count only then). */
  emailVerified: boolean;
  /** The account's session version (carried by new tokens). */
  sessionVersion: number;
  /** The sign-in the access token belongs to (`sid`): tokens minted for this caller carry it on. */
  sessionId?: string;
}

export type AuthedRequest = FastifyRequest & { user?: AuthUser };

/**
 * Global guard, deny by default: every route needs a valid bearer access token unless it is
 * marked @Public(); a route with @RequirePermission() also needs that permission. Lookups that
 * decide access fail closed: a database outage answers 503, never 401 or 403.
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
    const token = bearerToken(header);
    if (!token) throw new UnauthorizedException('sign in first: send Authorization: Bearer <access token>');
    const claims = await verifyAccessToken(this.config, token);
    if (!claims) throw new UnauthorizedException('the access token is invalid or expired');
    const state = await failClosed('the account check', () => this.auth.accountState(claims.sub));
    if (!state) throw new UnauthorizedException('the account is no longer active');
    if (claims.sv !== state.sessionVersion) {
      throw new UnauthorizedException('this session was closed (password changed or reset); sign in again');
    }
    const sid = claims.sid;
    if (sid !== undefined && !(await failClosed('the session check', () => this.auth.sessionOpen(sid)))) {
      throw new UnauthorizedException('this session was closed (signed out, or its refresh token was used twice); sign in again');
    }
    req.user = { id: claims.sub, email: state.email, emailVerified: state.verified, sessionVersion: state.sessionVersion, sessionId: sid };
    const ctx = requestContext();
    if (ctx) {
      ctx.userId = claims.sub;
      ctx.email = state.email;
    }
    const can = (permission: string) =>
      this.rbac ? failClosed('the permission check', () => this.rbac!.can(claims.sub, permission)) : Promise.resolve(false);
    const permission = this.reflector.getAllAndOverride<string | undefined>(REQUIRED_PERMISSION, targets);
    if (permission) {
      if (!this.rbac) throw new ForbiddenException(`requires ${permission}`);
      if (!(await can(permission))) throw new ForbiddenException(`requires permission ${permission}`);
    }
    const withDeleted = this.reflector.getAllAndOverride<string | undefined>(WITH_DELETED_PERMISSION, targets);
    const query = req.query as Record<string, unknown> | undefined;
    if (withDeleted && query?.withDeleted === 'true' && !(await can(withDeleted))) {
      throw new ForbiddenException(`withDeleted=true requires permission ${withDeleted}`);
    }
    const bypass = this.reflector.getAllAndOverride<string | undefined>(OWNER_BYPASS, targets);
    if (bypass && ctx) ctx.ownerBypass = await can(bypass);
    const scoped = this.reflector.getAllAndOverride<boolean>(TENANT_SCOPED, targets);
    const optional = this.reflector.getAllAndOverride<boolean>(TENANT_OPTIONAL, targets);
    if (scoped || optional) {
      if (!this.tenancy || !ctx) throw new ForbiddenException('tenancy is not configured');
      const orgHeader = req.headers['x-organization-id'];
      const input = {
        userId: claims.sub,
        claimed: claims.org,
        header: typeof orgHeader === 'string' ? orgHeader : undefined,
        method: req.method,
        roles: this.reflector.getAllAndOverride<string[] | undefined>(TENANT_ROLES, targets),
      };
      if (scoped) {
        const r = await failClosed('the organization check', () => this.tenancy!.resolve(input));
        ctx.tenant = r.tenant;
        ctx.tenantRole = r.role;
        ctx.log = { ...ctx.log, tenant: r.tenant };
      } else if (input.claimed !== undefined || input.header !== undefined) {
        // Without a usable organization the route still answers, for the caller's own rows.
        const r = await failClosed('the organization check', () => this.tenancy!.resolve(input)).catch((e: unknown) => {
          if (e instanceof ForbiddenException) return undefined;
          throw e;
        });
        ctx.tenant = r?.tenant;
        ctx.tenantRole = r?.role;
        ctx.log = { ...ctx.log, tenant: r?.tenant };
      }
    }
    return true;
  }
}
