import { ForbiddenException, Inject, Injectable, Optional } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import { PERMISSION_CHECKER, type PermissionChecker } from '../rbac/permission.decorator.js';
import type { TenantResolver } from './tenant.decorator.js';
import { TENANCY } from './tenancy.tables.js';

const UUIDISH = /^[0-9A-Za-z_.:-]{1,100}$/;

/**
 * Which organization a request acts in. The signed-in user's token names one (chosen at sign-in
 * or with POST /auth/organization); it counts only while the user is an active member. A
 * different organization can be named in the X-Organization-Id header only by users with the
 * `tenants:cross` permission. An organization whose status is not active is read-only
 * (TENANT_SUSPENDED=readonly, the default) or closed (TENANT_SUSPENDED=locked).
 */
function suspendedMode(): 'readonly' | 'locked' {
  const raw = process.env.TENANT_SUSPENDED ?? 'readonly';
  if (raw !== 'readonly' && raw !== 'locked') throw new Error(`TENANT_SUSPENDED must be "readonly" or "locked", got "${raw}"`);
  return raw;
}

@Injectable()
export class TenancyService implements TenantResolver {
  private readonly cache = new Map<string, { at: number; role: string | null; member: boolean }>();
  private readonly ttlMs = Number(process.env.TENANT_CACHE_TTL_MS ?? 10_000);
  private readonly suspended = suspendedMode();

  constructor(
    private readonly db: DatabaseService,
    @Optional() @Inject(PERMISSION_CHECKER) private readonly rbac?: PermissionChecker,
  ) {}

  private args(names: readonly string[], v: Record<string, unknown>): unknown[] {
    return names.map((n) => v[n]);
  }

  /** Membership rows are under row-level security: read them as the signed-in user. */
  private asUser<R extends Record<string, unknown>>(userId: string, email: string, sql: string, params: unknown[]) {
    return this.db.transaction(async (tx) => {
      await tx.query("SELECT set_config('app.current_user_id', $1, true), set_config('app.current_user_email', $2, true)", [userId, email]);
      return (await tx.query(sql, params)).rows as R[];
    });
  }

  /** Membership of a user in a tenant: role, or null when not an active member. */
  async membership(tenant: string, userId: string, email: string): Promise<{ member: boolean; role: string | null }> {
    const key = `${tenant}|${userId}`;
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit;
    const rows = await this.asUser<{ role: string | null }>(userId, email, TENANCY.memberSql, this.args(TENANCY.memberArgs, { tenant, userId, email })).catch(
      () => [] as { role: string | null }[],
    );
    const value = { at: Date.now(), member: rows.length > 0, role: rows[0]?.role ?? null };
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(key, value);
    return value;
  }

  async resolve(input: { userId: string; email: string; claimed?: string; header?: string; method: string; roles?: string[] }): Promise<string> {
    let tenant: string;
    if (input.header !== undefined) {
      if (!UUIDISH.test(input.header)) throw new ForbiddenException('X-Organization-Id is not an organization id');
      const cross = this.rbac ? await this.rbac.can(input.userId, TENANCY.crossPermission) : false;
      if (cross) {
        tenant = input.header;
      } else {
        const m = await this.membership(input.header, input.userId, input.email);
        if (!m.member) throw new ForbiddenException('you are not a member of that organization');
        tenant = input.header;
      }
    } else {
      if (!input.claimed) throw new ForbiddenException('no organization selected: sign in as a member of one, or POST /auth/organization');
      tenant = input.claimed;
    }
    const m = await this.membership(tenant, input.userId, input.email);
    const cross = input.header !== undefined && !m.member;
    if (!m.member && !cross) throw new ForbiddenException('you are not a member of that organization');
    if (input.roles?.length && !cross && !(m.role && input.roles.includes(m.role))) {
      throw new ForbiddenException(`only ${input.roles.join(' or ')} members of the organization may do this`);
    }
    const { rows } = await this.db.query<{ status: string | null }>(TENANCY.tenantStatusSql, [tenant]).catch(() => ({ rows: [] }));
    if (rows.length === 0) throw new ForbiddenException('that organization does not exist');
    const status = rows[0].status;
    if (status !== null && status !== TENANCY.activeStatus) {
      if (this.suspended === 'locked') throw new ForbiddenException(`the organization is ${status}`);
      if (input.method !== 'GET' && input.method !== 'HEAD') throw new ForbiddenException(`the organization is ${status}: read-only`);
    }
    return tenant;
  }

  async defaultTenant(userId: string, email: string): Promise<string | undefined> {
    const rows = await this.asUser<{ tenant: string }>(userId, email, TENANCY.defaultTenantSql, this.args(TENANCY.defaultTenantArgs, { userId, email })).catch(
      () => [] as { tenant: string }[],
    );
    return rows[0]?.tenant;
  }

  async organizations(userId: string, email: string): Promise<{ id: string; role: string | null }[]> {
    return this.asUser<{ id: string; role: string | null }>(userId, email, TENANCY.listTenantsSql, this.args(TENANCY.defaultTenantArgs, { userId, email }));
  }
}
