import { BadRequestException, ForbiddenException, Inject, Injectable, Logger, NotFoundException, Optional } from '@nestjs/common';
import { AUTH_CONFIG, type AuthConfig } from '../auth/auth.config.js';
import { defineSettings } from '../config.js';
import { onCreated } from '../crud/repository.js';
import { DatabaseService } from '../database/database.service.js';
import { MailService } from '../mail/mail.service.js';
import { PERMISSION_CHECKER, type PermissionChecker } from '../rbac/permission.decorator.js';
import type { ResolvedTenant, TenantResolver } from './tenant.decorator.js';
import { TENANCY } from './tenancy.tables.js';

/** Section `tenancy`: what a suspended organization may do, and how long answers are trusted. */
const tenancySettings = defineSettings('tenancy', (env) => ({
  suspended: env.oneOf('TENANT_SUSPENDED', ['readonly', 'locked'], 'readonly'),
  cacheTtlMs: env.int('TENANT_CACHE_TTL_MS', 10_000, 0, 600_000),
}));

export interface Invitation {
  id: string;
  organizationId: string;
  role: string | null;
}

/**
 * Which organization a request acts in. Membership is bound to identity: a membership row
 * counts for a user when it is linked to that user (a users foreign key, or an accepted
 * invitation), or, while it is linked to no one, when its email is the user's verified email.
 * The signed-in user's token names one organization (chosen at sign-in or with POST
 * /auth/organization); it counts only while the user is an active member. A different
 * organization can be named in the X-Organization-Id header only by members or holders of
 * `tenants:cross`. An organization whose status is not active is read-only
 * (TENANT_SUSPENDED=readonly, the default) or closed (TENANT_SUSPENDED=locked). Database errors
 * are not caught here: the guard answers 503 for them.
 */
@Injectable()
export class TenancyService implements TenantResolver {
  private readonly cache = new Map<string, { at: number; role: string | null; member: boolean }>();
  private readonly ttlMs = tenancySettings().cacheTtlMs;
  private readonly statuses = new Map<string, { at: number; value: { status: string | null } | undefined }>();
  private readonly suspended = tenancySettings().suspended;

  private readonly logger = new Logger('Tenancy');

  constructor(
    private readonly db: DatabaseService,
    @Optional() @Inject(PERMISSION_CHECKER) private readonly rbac?: PermissionChecker,
    @Optional() private readonly mail?: MailService,
    @Optional() @Inject(AUTH_CONFIG) private readonly config?: AuthConfig,
  ) {
    // A membership added through the API for an email is an invitation: tell the address.
    if (TENANCY.invite) onCreated(TENANCY.invite.table, (e) => this.invite(e.rows));
  }

  private invite(rows: Record<string, unknown>[]): void {
    const inv = TENANCY.invite;
    if (!inv || !this.mail) return;
    for (const row of rows) {
      const email = row[inv.emailProperty];
      if (typeof email !== 'string' || !email.includes('@')) continue;
      if (inv.userProperty && row[inv.userProperty] != null) continue;
      const where = this.config?.publicUrl ? ` (${this.config.publicUrl})` : '';
      this.mail.sendLater({
        to: email,
        subject: `You are invited to an organization on ${this.config?.issuer ?? 'our service'}`,
        text:
          `You were invited to organization ${String(row[inv.tenantProperty])}${where}.\n\n` +
          `Sign up or sign in with this address and confirm it (POST /auth/verify-email with the token we send you), ` +
          `then accept the invitation: POST /auth/invitations/${String(row[inv.keyProperty])}/accept.\n\n` +
          `If you do not know why you got this, ignore it: nothing happens until this address is verified.`,
      });
      this.logger.log(`invitation sent for membership ${String(row[inv.keyProperty])}`);
    }
  }

  /** Membership rows are under row-level security: read them as the signed-in user (and tenant, when given). */
  private asUser<R extends Record<string, unknown>>(userId: string, sql: string, params: unknown[], tenant?: string) {
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT set_config($1, $2, true), set_config($3, $4, true)', [
        'nestgen.user_id',
        userId,
        TENANCY.setting,
        tenant ?? '',
      ]);
      return (await tx.query(sql, params)).rows as R[];
    });
  }

  /** Membership of a user in a tenant: role, or not a member. */
  async membership(tenant: string, userId: string): Promise<{ member: boolean; role: string | null }> {
    if (!TENANCY.tenantId.test(tenant)) return { member: false, role: null };
    const key = `${tenant}|${userId}`;
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit;
    const rows = await this.asUser<{ role: string | null }>(userId, TENANCY.memberSql, [tenant, userId]);
    const value = { at: Date.now(), member: rows.length > 0, role: rows[0]?.role ?? null };
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(key, value);
    return value;
  }

  /** Forget cached memberships of a user (after they accept an invitation). */
  forget(userId: string): void {
    for (const k of this.cache.keys()) if (k.endsWith(`|${userId}`)) this.cache.delete(k);
  }

  async resolve(input: { userId: string; claimed?: string; header?: string; method: string; roles?: string[] }): Promise<ResolvedTenant> {
    let tenant: string;
    let cross = false;
    if (input.header !== undefined) {
      // A malformed header (or two, which Node joins with a comma) is the client's mistake: 400.
      if (!TENANCY.tenantId.test(input.header)) throw new BadRequestException('X-Organization-Id is not one organization id');
      tenant = input.header;
    } else {
      if (!input.claimed) throw new ForbiddenException('no organization selected: sign in as a member of one, or POST /auth/organization');
      if (!TENANCY.tenantId.test(input.claimed)) throw new ForbiddenException('the token names no valid organization');
      tenant = input.claimed;
    }
    const m = await this.membership(tenant, input.userId);
    if (!m.member) {
      cross = input.header !== undefined && this.rbac !== undefined && (await this.rbac.can(input.userId, TENANCY.crossPermission));
      if (!cross) throw new ForbiddenException('you are not a member of that organization');
    }
    if (input.roles?.length && !cross && !(m.role && input.roles.includes(m.role))) {
      throw new ForbiddenException(`only ${input.roles.join(' or ')} members of the organization may do this`);
    }
    const read = input.method === 'GET' || input.method === 'HEAD';
    const found = await this.statusOf(tenant, read && this.suspended === 'readonly');
    if (!found) throw new ForbiddenException('that organization does not exist');
    const status = found.status;
    if (status !== null && status !== TENANCY.activeStatus) {
      if (this.suspended === 'locked') throw new ForbiddenException(`the organization is ${status}`);
      if (input.method !== 'GET' && input.method !== 'HEAD') throw new ForbiddenException(`the organization is ${status}: read-only`);
    }
    return { tenant, role: cross ? null : m.role };
  }

  /**
   * The organization's status (undefined: it does not exist). A change always reads it, so a
   * suspension applies to the next write at once; a read, which a suspension in readonly mode
   * allows anyway, may use the answer of the last TENANT_CACHE_TTL_MS (as memberships do): a
   * deleted organization stops being readable within that time.
   */
  private async statusOf(tenant: string, cached: boolean): Promise<{ status: string | null } | undefined> {
    const hit = cached ? this.statuses.get(tenant) : undefined;
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.value;
    const { rows } = await this.db.query<{ status: string | null }>(TENANCY.tenantStatusSql, [tenant]);
    const value = rows[0] ? { status: rows[0].status } : undefined;
    if (this.statuses.size >= 10_000) this.statuses.clear();
    this.statuses.set(tenant, { at: Date.now(), value });
    return value;
  }

  async defaultTenant(userId: string): Promise<string | undefined> {
    const rows = await this.asUser<{ tenant: string }>(userId, TENANCY.defaultTenantSql, [userId]);
    return rows[0]?.tenant;
  }

  async organizations(userId: string): Promise<{ id: string; role: string | null }[]> {
    return this.asUser<{ id: string; role: string | null }>(userId, TENANCY.listTenantsSql, [userId]);
  }

  /** Memberships waiting for this user: linked to no one, with the user's verified email. */
  async invitations(userId: string): Promise<Invitation[]> {
    if (!TENANCY.invitationsSql) return [];
    return this.asUser<Invitation & Record<string, unknown>>(userId, TENANCY.invitationsSql, [userId]);
  }

  /** Link a waiting membership to this user: from now on it counts for them alone. */
  async accept(userId: string, membershipId: string): Promise<Invitation> {
    if (!TENANCY.acceptSql) throw new NotFoundException('this membership table has no invitations');
    if (!TENANCY.memberId.test(membershipId)) throw new NotFoundException('no invitation with that id for your verified email');
    const pending = (await this.invitations(userId)).find((i) => i.id === membershipId);
    if (!pending) throw new NotFoundException('no invitation with that id for your verified email');
    const rows = await this.asUser<{ id: string }>(userId, TENANCY.acceptSql, [membershipId, userId], pending.organizationId);
    if (rows.length === 0) throw new NotFoundException('no invitation with that id for your verified email');
    this.forget(userId);
    return pending;
  }
}
