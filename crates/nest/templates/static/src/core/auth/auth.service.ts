import { ConflictException, ForbiddenException, HttpException, HttpStatus, Inject, Injectable, Optional, UnauthorizedException } from '@nestjs/common';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { CrudRepository, type Row } from '../crud/repository.js';
import { DatabaseService, type Queryable } from '../database/database.service.js';
import { TENANT_RESOLVER, type TenantResolver } from '../tenancy/tenant.decorator.js';
import { AUTH_CONFIG, type AuthConfig } from './auth.config.js';
import { AUTH_USERS as U } from './auth.users.js';
import { signAccessToken } from './jwt.js';
import { dummyHash, hashPassword, verifyPassword } from './password.js';
import { newTotpSecret, otpauthUrl, verifyTotp } from './totp.js';

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

interface Credentials {
  id: string;
  email: string;
  password_hash: string | null;
  status: string | null;
  failed: number | null;
  locked_until: string | null;
  locked: boolean;
  tfa_enabled: boolean | null;
  tfa_secret: string | null;
}

function stateTtl(): number {
  const raw = process.env.AUTH_STATE_CACHE_MS ?? '5000';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 600_000) throw new Error(`AUTH_STATE_CACHE_MS must be 0 to 600000, got "${raw}"`);
  return n;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function locked(until: string | null): never {
  throw new HttpException(
    { message: `the account is locked after too many failed sign-ins; try again after ${until}`, details: { lockedUntil: until } },
    HttpStatus.LOCKED,
  );
}

/**
 * Sign-up, sign-in with lockout and an optional second factor, rotating refresh tokens with
 * reuse detection, sign-out. Passwords are argon2id hashes; refresh tokens are stored hashed.
 */
@Injectable()
export class AuthService {
  private readonly users: CrudRepository;

  constructor(
    private readonly db: DatabaseService,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Optional() @Inject(TENANT_RESOLVER) private readonly tenancy?: TenantResolver,
  ) {
    this.users = new CrudRepository(db, U.resource);
  }

  private credentials(where: string, value: string, db: Queryable = this.db, lock = false) {
    const col = (c: string | null, alias: string, fallback = 'NULL') => `${c ?? fallback} AS ${alias}`;
    return db.query(
      `SELECT ${U.id}::text AS id, ${U.email} AS email, ${U.passwordHash} AS password_hash, ${col(U.status, 'status')},
              ${col(U.failedLogins, 'failed')}, ${col(U.lockedUntil, 'locked_until')},
              ${U.lockedUntil ? `(${U.lockedUntil} IS NOT NULL AND ${U.lockedUntil} > now())` : 'false'} AS locked,
              ${col(U.twoFactorEnabled, 'tfa_enabled')}, ${col(U.twoFactorSecret, 'tfa_secret')}
         FROM ${U.table} WHERE ${where} = $1${U.deletedAt ? ` AND ${U.deletedAt} IS NULL` : ''}${lock ? ' FOR UPDATE' : ''}`,
      [value],
    ) as Promise<{ rows: Credentials[] }>;
  }

  async register(dto: Record<string, unknown>, meta: { ip?: string; userAgent?: string }): Promise<{ user: Row; tokens: Tokens }> {
    // Email and password hash are set by the server (the users CRUD routes cannot change them).
    const { password, [U.emailProperty]: email, ...profile } = dto;
    const hash = await hashPassword(String(password));
    const user = await this.users.create(profile, this.db, {
      [U.emailColumn]: String(email).trim().toLowerCase(),
      [U.passwordHashColumn]: hash,
    });
    const id = String(user[U.idProperty]);
    const email2 = String(user[U.emailProperty]);
    const tokens = await this.issue(id, email2, undefined, meta, this.db, await this.tenancy?.defaultTenant(id, email2));
    return { user, tokens };
  }

  async login(email: string, password: string, totp: string | undefined, meta: { ip?: string; userAgent?: string }): Promise<Tokens> {
    const normalized = email.trim().toLowerCase();
    const { rows } = await this.credentials(`lower(${U.email})`, normalized);
    const c = rows[0];
    if (!c || !c.password_hash) {
      await verifyPassword(await dummyHash(), password);
      throw new UnauthorizedException('invalid email or password');
    }
    const ok = await verifyPassword(c.password_hash, password);
    // A locked account answers like any other to a wrong password (no hint that it exists);
    // failures while locked do not extend the lock.
    if (!ok) {
      if (!c.locked) await this.failed(c.id);
      throw new UnauthorizedException('invalid email or password');
    }
    if (c.locked) locked(c.locked_until);
    if (U.status && c.status !== U.activeStatus) {
      throw new ForbiddenException(`the account is ${c.status ?? 'not active'}`);
    }
    if (c.tfa_enabled && c.tfa_secret) {
      if (!totp) throw new UnauthorizedException({ message: 'a one-time code is required', details: { twoFactorRequired: true } });
      if (!verifyTotp(c.tfa_secret, totp)) {
        await this.failed(c.id);
        throw new UnauthorizedException('invalid one-time code');
      }
    }
    const sets = [
      U.failedLogins && `${U.failedLogins} = 0`,
      U.lockedUntil && `${U.lockedUntil} = NULL`,
      U.lastLoginAt && `${U.lastLoginAt} = now()`,
    ].filter(Boolean);
    if (sets.length) await this.db.query(`UPDATE ${U.table} SET ${sets.join(', ')} WHERE ${U.id} = $1::${U.idType}`, [c.id]);
    return this.issue(c.id, c.email, undefined, meta, this.db, await this.tenancy?.defaultTenant(c.id, c.email));
  }

  /** Count a failed sign-in; lock the account at the limit. A lock that has run out restarts the count. */
  private async failed(userId: string): Promise<void> {
    if (!U.failedLogins) return;
    const expired = U.lockedUntil ? `${U.lockedUntil} IS NOT NULL AND ${U.lockedUntil} <= now()` : 'false';
    const count = `CASE WHEN ${expired} THEN 1 ELSE COALESCE(${U.failedLogins}, 0) + 1 END`;
    const lock = U.lockedUntil
      ? `, ${U.lockedUntil} = CASE WHEN ${count} >= $2 THEN now() + make_interval(mins => $3) WHEN ${expired} THEN NULL ELSE ${U.lockedUntil} END`
      : '';
    await this.db.query(`UPDATE ${U.table} SET ${U.failedLogins} = ${count}${lock} WHERE ${U.id} = $1::${U.idType}`, [
      userId,
      this.config.maxFailedLogins,
      this.config.lockMinutes,
    ].slice(0, U.lockedUntil ? 3 : 1));
  }

  private async issue(
    userId: string,
    email: string,
    family: string | undefined,
    meta: { ip?: string; userAgent?: string },
    db: Queryable = this.db,
    org?: string,
  ): Promise<Tokens> {
    const refreshToken = randomBytes(32).toString('base64url');
    await db.query(
      `INSERT INTO ${U.refreshTable} (id, user_id, family_id, token_hash, expires_at, ip, user_agent, org)
       VALUES ($1, $2::${U.idType}, $3, $4, now() + make_interval(secs => $5), $6, $7, $8)`,
      [randomUUID(), userId, family ?? randomUUID(), sha256(refreshToken), this.config.refreshTtlSeconds, meta.ip ?? null, meta.userAgent?.slice(0, 500) ?? null, org ?? null],
    );
    const accessToken = await signAccessToken(this.config, { sub: userId, email, ...(org ? { org } : {}) });
    return { accessToken, refreshToken, tokenType: 'Bearer', expiresIn: this.config.accessTtlSeconds };
  }

  /** Trade a refresh token for new tokens. A token used twice revokes its whole family. */
  async refresh(token: string, meta: { ip?: string; userAgent?: string }): Promise<Tokens> {
    const result = await this.db.transaction(async (tx) => {
      const { rows } = await tx.query(
        `SELECT id, user_id::text AS user_id, family_id, org, revoked_at IS NOT NULL AS revoked, expires_at <= now() AS expired
           FROM ${U.refreshTable} WHERE token_hash = $1 FOR UPDATE`,
        [sha256(token)],
      );
      const row = rows[0] as { id: string; user_id: string; family_id: string; org: string | null; revoked: boolean; expired: boolean } | undefined;
      if (!row) return { error: 'the refresh token is not valid' };
      if (row.revoked) {
        await tx.query(`UPDATE ${U.refreshTable} SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL`, [row.family_id]);
        return { error: 'the refresh token was already used; every session of this sign-in is now closed' };
      }
      if (row.expired) return { error: 'the refresh token has expired' };
      const { rows: users } = await this.credentials(U.id, row.user_id, tx);
      const user = users[0];
      if (!user || (U.status && user.status !== U.activeStatus) || user.locked) {
        await tx.query(`UPDATE ${U.refreshTable} SET revoked_at = now() WHERE family_id = $1`, [row.family_id]);
        return { error: 'the account can no longer sign in' };
      }
      const tokens = await this.issue(user.id, user.email, row.family_id, meta, tx, row.org ?? undefined);
      await tx.query(
        `UPDATE ${U.refreshTable} SET revoked_at = now(), replaced_by = (SELECT id FROM ${U.refreshTable} WHERE token_hash = $2) WHERE id = $1`,
        [row.id, sha256(tokens.refreshToken)],
      );
      return { tokens };
    });
    if ('error' in result) throw new UnauthorizedException(result.error);
    return result.tokens as Tokens;
  }

  /** Close the sign-in the refresh token belongs to (all its rotations). */
  async logout(token: string): Promise<void> {
    await this.db.query(
      `UPDATE ${U.refreshTable} SET revoked_at = now()
        WHERE family_id = (SELECT family_id FROM ${U.refreshTable} WHERE token_hash = $1) AND revoked_at IS NULL`,
      [sha256(token)],
    );
  }

  private readonly active = new Map<string, { at: number; ok: boolean }>();
  private readonly stateTtlMs = stateTtl();

  /**
   * Whether the account behind a valid access token may still act: not deleted and (with a
   * status column) active. Checked on every request, cached for AUTH_STATE_CACHE_MS (default 5 s),
   * so a suspended or deleted user loses access within seconds, not when the token expires.
   */
  async isActive(userId: string): Promise<boolean> {
    const hit = this.active.get(userId);
    if (hit && Date.now() - hit.at < this.stateTtlMs) return hit.ok;
    const conds = [`${U.id} = $1::${U.idType}`];
    if (U.deletedAt) conds.push(`${U.deletedAt} IS NULL`);
    const params: unknown[] = [userId];
    if (U.status) {
      conds.push(`${U.status} = $2`);
      params.push(U.activeStatus);
    }
    const { rows } = await this.db.query(`SELECT 1 FROM ${U.table} WHERE ${conds.join(' AND ')}`, params);
    const ok = rows.length > 0;
    if (this.active.size > 10_000) this.active.clear();
    this.active.set(userId, { at: Date.now(), ok });
    return ok;
  }

  me(userId: string): Promise<Row> {
    return this.users.get({ [U.idProperty]: userId });
  }

  /** Start enabling the second factor: a new secret, active once verified. */
  async startTwoFactor(userId: string, email: string): Promise<{ secret: string; otpauthUrl: string }> {
    if (!U.twoFactorSecret || !U.twoFactorEnabled) throw new ForbiddenException('this users table has no second factor columns');
    // A stolen access token must not be enough to replace (and so remove) a working second factor.
    const { rows } = await this.credentials(U.id, userId);
    if (rows[0]?.tfa_enabled) throw new ConflictException('the second factor is already on; disable it with a code first');
    const secret = newTotpSecret();
    await this.db.query(
      `UPDATE ${U.table} SET ${U.twoFactorSecret} = $2, ${U.twoFactorEnabled} = false WHERE ${U.id} = $1::${U.idType}`,
      [userId, secret],
    );
    return { secret, otpauthUrl: otpauthUrl(this.config.issuer, email, secret) };
  }

  async verifyTwoFactor(userId: string, code: string, enable: boolean): Promise<void> {
    const { rows } = await this.credentials(U.id, userId);
    const c = rows[0];
    if (!c) throw new UnauthorizedException('the account is gone');
    if (c.locked) locked(c.locked_until);
    if (!c.tfa_secret || !verifyTotp(c.tfa_secret, code)) {
      // Wrong codes count toward the lockout like wrong passwords.
      await this.failed(c.id);
      throw new UnauthorizedException('invalid one-time code');
    }
    const sets = enable
      ? `${U.twoFactorEnabled} = true`
      : `${U.twoFactorEnabled} = false, ${U.twoFactorSecret} = NULL`;
    await this.db.query(`UPDATE ${U.table} SET ${sets} WHERE ${U.id} = $1::${U.idType}`, [userId]);
  }
}
