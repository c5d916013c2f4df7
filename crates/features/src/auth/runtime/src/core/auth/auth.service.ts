import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  Optional,
  UnauthorizedException,
} from '@nestjs/common';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { CrudRepository, type Row } from '../crud/repository.js';
import { DatabaseService, type Queryable } from '../database/database.service.js';
import { RateLimiter, tooManyRequests } from '../http/rate-limit.js';
import { MailService } from '../mail/mail.service.js';
import { TENANT_RESOLVER, type TenantResolver } from '../tenancy/tenant.decorator.js';
import { AUTH_CONFIG, type AuthConfig, authSettings } from './auth.config.js';
import { AUTH_USERS as U } from './auth.users.js';
import { signAccessToken } from './jwt.js';
import { dummyHash, hashPassword, verifyPassword } from './password.js';
import { SecretBox } from './secret-box.js';
import { newTotpSecret, otpauthUrl, verifyTotp } from './totp.js';

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

/** Where a request comes from (for limits, and stored with refresh tokens). */
export interface ClientMeta {
  ip?: string;
  userAgent?: string;
}

interface Credentials {
  id: string;
  email: string;
  password_hash: string | null;
  status: string | null;
  locked: boolean;
  locked_until: string | null;
  tfa_enabled: boolean | null;
  tfa_secret: string | null;
}

/** What the guard needs on every request (cached for AUTH_STATE_CACHE_MS). */
export interface AccountState {
  email: string;
  verified: boolean;
  /** Bumped by a password reset or change: access tokens carrying an older one no longer count. */
  sessionVersion: number;
}

type Purpose = 'verify-email' | 'reset-password';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const normalize = (email: string) => email.trim().toLowerCase();

const ACCOUNTS = '"nestgen"."accounts"';
const TOKENS = '"nestgen"."auth_tokens"';

/**
 * Sign-up with email verification, sign-in with per-address delays, an account lock a second
 * factor or a reset lifts, and single-use one-time codes; password reset; rotating refresh
 * tokens with reuse detection; sign-out. Passwords are argon2id hashes; refresh and emailed
 * tokens are stored as SHA-256 hashes; second-factor secrets are encrypted (SecretBox).
 */
@Injectable()
export class AuthService {
  private readonly users: CrudRepository;
  private readonly logger = new Logger('Auth');
  private readonly limiter = RateLimiter.shared();
  private readonly box = U.twoFactorEnabled ? SecretBox.fromSettings() : undefined;

  constructor(
    private readonly db: DatabaseService,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    private readonly mail: MailService,
    @Optional() @Inject(TENANT_RESOLVER) private readonly tenancy?: TenantResolver,
  ) {
    this.users = new CrudRepository(db, U.resource);
  }

  private credentials(where: string, value: string, db: Queryable = this.db) {
    const col = (c: string | null, alias: string, fallback = 'NULL') => `${c ? `u.${c}` : fallback} AS ${alias}`;
    return db.query(
      `SELECT u.${U.id}::text AS id, u.${U.email} AS email, u.${U.passwordHash} AS password_hash, ${col(U.status, 'status')},
              ${col(U.lockedUntil, 'locked_until')},
              ${U.lockedUntil ? `(u.${U.lockedUntil} IS NOT NULL AND u.${U.lockedUntil} > now())` : 'false'} AS locked,
              ${col(U.twoFactorEnabled, 'tfa_enabled')}, ${U.twoFactorEnabled ? U.tfaSecretSql : 'NULL'} AS tfa_secret
         FROM ${U.table} u WHERE ${where} = $1${U.deletedAt ? ` AND u.${U.deletedAt} IS NULL` : ''}`,
      [value],
    ) as Promise<{ rows: Credentials[] }>;
  }

  private key(userId: string) {
    return { [U.idProperty]: userId };
  }

  /** Per client address, on every public /auth route. */
  async limitAddress(meta: ClientMeta): Promise<void> {
    await this.limiter.enforce(
      `auth-ip:${meta.ip ?? 'unknown'}`,
      this.config.authPerMinute,
      60_000,
      'too many sign-in requests from this address',
    );
  }

  /**
   * Emails sent to one account (verification, reset): a cap per minute, so nobody floods a
   * mailbox. Counted apart from sign-in, which a stranger must never be able to block.
   */
  private async limitMail(email: string): Promise<void> {
    await this.limiter.enforce(
      `auth-mail:${sha256(normalize(email))}`,
      this.config.accountPerMinute,
      60_000,
      'too many emails for this account',
    );
  }

  /**
   * Checks of a secret by a signed-in user (one-time code, current password): after
   * AUTH_MAX_FAILED_LOGINS failures within AUTH_LOCK_MINUTES, 429 until the window ends.
   */
  private async secretCheck<T>(userId: string, check: () => Promise<T | false>): Promise<T | false> {
    const key = `secret-fail:${userId}`;
    if ((await this.limiter.peek(key)) >= this.config.maxFailedLogins) {
      throw tooManyRequests((await this.limiter.ttl(key)) / 1000, 'too many wrong codes or passwords');
    }
    const result = await check();
    if (result === false) await this.limiter.count(key, this.config.lockMinutes * 60_000);
    return result;
  }

  async register(dto: Record<string, unknown>, meta: ClientMeta): Promise<{ user: Row; tokens: Tokens }> {
    // Email and password hash are set by the server (the users CRUD routes cannot change them).
    const { password, [U.emailProperty]: email, ...profile } = dto;
    await this.limitMail(String(email));
    const hash = await hashPassword(String(password));
    const user = await this.users.create(profile, this.db, {
      [U.emailColumn]: normalize(String(email)),
      [U.passwordHashColumn]: hash,
    });
    const id = String(user[U.idProperty]);
    const address = String(user[U.emailProperty]);
    await this.sendVerification(id, address);
    const tokens = await this.issue(id, address, undefined, meta, this.db, await this.tenancy?.defaultTenant(id));
    return { user, tokens };
  }

  async login(email: string, password: string, totp: string | undefined, meta: ClientMeta): Promise<Tokens> {
    const normalized = normalize(email);
    // Repeated failures from one address for one account: each further try waits longer.
    const pair = sha256(`${meta.ip ?? 'unknown'}|${normalized}`);
    const failKey = `login-fail:${pair}`;
    const waitKey = `login-wait:${pair}`;
    const wait = await this.limiter.ttl(waitKey);
    if (wait > 0) throw tooManyRequests(wait / 1000, 'too many failed sign-ins for this account from this address');
    const failedTry = async (userId?: string) => {
      const count = await this.limiter.count(failKey, this.config.lockMinutes * 60_000);
      if (count >= this.config.maxFailedLogins) {
        const ms = Math.min(2 ** (count - this.config.maxFailedLogins + 1) * 1000, this.config.lockMinutes * 60_000);
        await this.limiter.set(waitKey, ms);
      }
      if (userId) await this.failed(userId);
    };
    const { rows } = await this.credentials(`lower(u.${U.email})`, normalized);
    const c = rows[0];
    if (!c || !c.password_hash) {
      await verifyPassword(await dummyHash(), password);
      await failedTry();
      throw new UnauthorizedException('invalid email or password');
    }
    if (!(await verifyPassword(c.password_hash, password))) {
      await failedTry(c.id);
      throw new UnauthorizedException('invalid email or password');
    }
    if (U.status && c.status !== U.activeStatus) {
      throw new ForbiddenException(`the account is ${c.status ?? 'not active'}`);
    }
    const secondFactor = c.tfa_enabled ? this.openSecret(c) : undefined;
    if (c.locked && !(secondFactor && totp)) {
      throw new HttpException(
        {
          message: `the account is locked after too many failed sign-ins (until ${c.locked_until}); ${
            secondFactor ? 'sign in with your one-time code, or ' : ''
          }reset your password (POST /auth/password/forgot) to unlock it now`,
          details: { lockedUntil: c.locked_until, twoFactorUnlocks: Boolean(secondFactor) },
        },
        HttpStatus.LOCKED,
      );
    }
    if (secondFactor) {
      if (!totp) throw new UnauthorizedException({ message: 'a one-time code is required', details: { twoFactorRequired: true } });
      if (!(await this.useCode(c.id, secondFactor, totp))) {
        await failedTry(c.id);
        throw new UnauthorizedException('invalid one-time code');
      }
    }
    await this.limiter.del(failKey, waitKey);
    // Bookkeeping, not audited (the audit ignores these columns).
    const sets = [
      U.failedLogins && `${U.failedLogins} = 0`,
      U.lockedUntil && `${U.lockedUntil} = NULL`,
      U.lastLoginAt && `${U.lastLoginAt} = now()`,
    ].filter(Boolean);
    if (sets.length) await this.db.query(`UPDATE ${U.table} SET ${sets.join(', ')} WHERE ${U.id} = $1::${U.idType}`, [c.id]);
    return this.issue(c.id, c.email, undefined, meta, this.db, await this.tenancy?.defaultTenant(c.id));
  }

  /** Count a failed sign-in for the account; lock it at AUTH_ACCOUNT_LOCK_AFTER. A lock that has run out restarts the count. */
  private async failed(userId: string): Promise<void> {
    if (!U.failedLogins) return;
    const expired = U.lockedUntil ? `${U.lockedUntil} IS NOT NULL AND ${U.lockedUntil} <= now()` : 'false';
    const count = `CASE WHEN ${expired} THEN 1 ELSE COALESCE(${U.failedLogins}, 0) + 1 END`;
    const lock = U.lockedUntil
      ? // A lock in force is never extended by more failures (or anyone could keep an account locked).
        `, ${U.lockedUntil} = CASE WHEN ${U.lockedUntil} > now() THEN ${U.lockedUntil} WHEN ${count} >= $2 THEN now() + make_interval(mins => $3) WHEN ${expired} THEN NULL ELSE ${U.lockedUntil} END`
      : '';
    await this.db.query(
      `UPDATE ${U.table} SET ${U.failedLogins} = ${count}${lock} WHERE ${U.id} = $1::${U.idType}`,
      [userId, this.config.accountLockAfter, this.config.lockMinutes].slice(0, U.lockedUntil ? 3 : 1),
    );
  }

  private async issue(
    userId: string,
    email: string,
    family: string | undefined,
    meta: ClientMeta,
    db: Queryable = this.db,
    org?: string,
  ): Promise<Tokens> {
    const refreshToken = randomBytes(32).toString('base64url');
    const { rows } = await db.query(`SELECT COALESCE((SELECT session_version FROM ${ACCOUNTS} WHERE user_id = $1::${U.idType}), 0) AS sv`, [
      userId,
    ]);
    const sv = Number((rows[0] as { sv: number }).sv);
    const sid = family ?? randomUUID();
    await db.query(
      `INSERT INTO ${U.refreshTable} (id, user_id, family_id, token_hash, expires_at, ip, user_agent, org)
       VALUES ($1, $2::${U.idType}, $3, $4, now() + make_interval(secs => $5), $6, $7, $8)`,
      [
        randomUUID(),
        userId,
        sid,
        sha256(refreshToken),
        this.config.refreshTtlSeconds,
        meta.ip ?? null,
        meta.userAgent?.slice(0, 500) ?? null,
        org ?? null,
      ],
    );
    const accessToken = await signAccessToken(this.config, { sub: userId, email, sv, sid, ...(org ? { org } : {}) });
    return { accessToken, refreshToken, tokenType: 'Bearer', expiresIn: this.config.accessTtlSeconds };
  }

  /** Trade a refresh token for new tokens. A token used twice revokes its whole family. */
  async refresh(token: string, meta: ClientMeta): Promise<Tokens> {
    const result = await this.db.transaction(async (tx) => {
      const { rows } = await tx.query(
        `SELECT id, user_id::text AS user_id, family_id, org, revoked_at IS NOT NULL AS revoked, expires_at <= now() AS expired
           FROM ${U.refreshTable} WHERE token_hash = $1 FOR UPDATE`,
        [sha256(token)],
      );
      const row = rows[0] as
        { id: string; user_id: string; family_id: string; org: string | null; revoked: boolean; expired: boolean } | undefined;
      if (!row) return { error: 'the refresh token is not valid' };
      if (row.revoked) {
        await tx.query(`UPDATE ${U.refreshTable} SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL`, [row.family_id]);
        return {
          error: 'the refresh token is no longer valid (used before, or signed out); this sign-in is closed',
          closed: row.family_id,
        };
      }
      if (row.expired) return { error: 'the refresh token has expired' };
      const { rows: users } = await this.credentials(`u.${U.id}`, row.user_id, tx);
      const user = users[0];
      // A lock stops new sign-ins, not existing sessions (anyone can trigger a lock).
      if (!user || (U.status && user.status !== U.activeStatus)) {
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
    if ('error' in result) {
      // Once committed (a check before would read the family as open and keep that).
      if (typeof result.closed === 'string') this.closed(result.closed);
      throw new UnauthorizedException(result.error);
    }
    return result.tokens as Tokens;
  }

  /** Close the sign-in the refresh token belongs to (all its rotations, and its access tokens). */
  async logout(token: string): Promise<void> {
    const { rows } = await this.db.query<{ family_id: string }>(
      `UPDATE ${U.refreshTable} SET revoked_at = now()
        WHERE family_id = (SELECT family_id FROM ${U.refreshTable} WHERE token_hash = $1) AND revoked_at IS NULL
        RETURNING family_id`,
      [sha256(token)],
    );
    for (const r of rows) this.closed(r.family_id);
  }

  private readonly sessions = new Map<string, { at: number; open: boolean }>();

  /** A sign-in was closed (committed): its access tokens stop at once on this instance. */
  private closed(sid: string): void {
    this.sessions.set(sid, { at: Date.now(), open: false });
  }

  /**
   * Whether a sign-in (an access token's `sid`) is still open: some refresh token of it is not
   * revoked. Signing out, a replayed refresh token and a password change close it; cached like
   * the account state (AUTH_STATE_CACHE_MS), so its access tokens stop working at once on this
   * instance and within that time on the others, not when they expire.
   */
  async sessionOpen(sid: string): Promise<boolean> {
    const hit = this.sessions.get(sid);
    if (hit && Date.now() - hit.at < this.stateTtlMs) return hit.open;
    const asked = Date.now();
    const { rows } = await this.db.query<{ open: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM ${U.refreshTable} WHERE family_id = $1 AND revoked_at IS NULL) AS open`,
      [sid],
    );
    const open = rows[0]?.open === true;
    // A sign-in closed while this query ran keeps its newer entry (an older answer never reopens it).
    const now = this.sessions.get(sid);
    if (now && now.at >= asked) return now.open && open;
    if (this.sessions.size > 10_000) this.sessions.clear();
    this.sessions.set(sid, { at: Date.now(), open });
    return open;
  }

  private readonly state = new Map<string, { at: number; value: AccountState | null }>();
  private readonly stateTtlMs = authSettings().stateCacheMs;

  /**
   * Whether the account behind a valid access token may still act (not deleted; active, with a
   * status column), its current email and whether it is verified, and since when its sessions
   * count. Checked on every request and cached for AUTH_STATE_CACHE_MS (default 5 s), so a
   * suspended user, or one whose password was reset, loses access within seconds.
   */
  async accountState(userId: string): Promise<AccountState | null> {
    const hit = this.state.get(userId);
    if (hit && Date.now() - hit.at < this.stateTtlMs) return hit.value;
    const conds = [`u.${U.id} = $1::${U.idType}`];
    if (U.deletedAt) conds.push(`u.${U.deletedAt} IS NULL`);
    const params: unknown[] = [userId];
    if (U.status) {
      conds.push(`u.${U.status} = $2`);
      params.push(U.activeStatus);
    }
    const { rows } = await this.db.query<{ email: string; verified: boolean; sv: number }>(
      `SELECT u.${U.email} AS email, ${U.verifiedSql} AS verified, COALESCE(a.session_version, 0) AS sv
         FROM ${U.table} u LEFT JOIN ${ACCOUNTS} a ON a.user_id = u.${U.id}
        WHERE ${conds.join(' AND ')}`,
      params,
    );
    const r = rows[0];
    const value = r ? { email: r.email, verified: r.verified === true, sessionVersion: r.sv } : null;
    if (this.state.size > 10_000) this.state.clear();
    this.state.set(userId, { at: Date.now(), value });
    return value;
  }

  me(userId: string): Promise<Row> {
    return this.users.get(this.key(userId));
  }

  // --- Emailed tokens ---------------------------------------------------------------------

  private link(path: string, token: string): string {
    return this.config.publicUrl ? `${this.config.publicUrl.replace(/\/$/, '')}${path}?token=${token}` : `token: ${token}`;
  }

  /** A new single-use token for `purpose`. */
  private async newToken(userId: string, email: string, purpose: Purpose, minutes: number): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.db.transaction(async (tx) => {
      // Earlier tokens stay valid until they expire (asking again must not void the link the
      // owner already has); using any one of them voids the rest.
      await tx.query(`DELETE FROM ${TOKENS} WHERE user_id = $1::${U.idType} AND expires_at < now() - interval '1 day'`, [userId]);
      await tx.query(
        `INSERT INTO ${TOKENS} (token_hash, user_id, purpose, email, expires_at) VALUES ($1, $2::${U.idType}, $3, $4, now() + make_interval(mins => $5))`,
        [sha256(token), userId, purpose, email, minutes],
      );
    });
    return token;
  }

  /** Use a token once: the user it was for, if it is valid, unused, unexpired and the account's email is still the one it was sent to. */
  private async useToken(token: string, purpose: Purpose, db: Queryable): Promise<string | undefined> {
    const { rows } = await db.query(
      `UPDATE ${TOKENS} SET used_at = now() WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
       RETURNING user_id::text AS user_id, email`,
      [sha256(token), purpose],
    );
    const r = rows[0] as { user_id: string; email: string } | undefined;
    if (!r) return undefined;
    await db.query(`UPDATE ${TOKENS} SET used_at = now() WHERE user_id = $1::${U.idType} AND purpose = $2 AND used_at IS NULL`, [
      r.user_id,
      purpose,
    ]);
    const { rows: users } = await this.credentials(`u.${U.id}`, r.user_id, db);
    return users[0] && normalize(users[0].email) === normalize(r.email) ? r.user_id : undefined;
  }

  private async sendVerification(userId: string, email: string): Promise<void> {
    const token = await this.newToken(userId, email, 'verify-email', this.config.verifyTtlMinutes);
    this.mail.sendLater({
      to: email,
      subject: `Confirm your email address for ${this.config.issuer}`,
      text: `Confirm this address with POST /auth/verify-email and the ${this.link('/verify-email', token)}\n\nIt works once and expires in ${Math.round(this.config.verifyTtlMinutes / 60)} hours. If you did not sign up, ignore this message.`,
    });
  }

  /** Send a new verification email to the signed-in user (unless already verified). */
  async resendVerification(userId: string): Promise<void> {
    const state = await this.accountState(userId);
    if (!state) throw new UnauthorizedException('the account is no longer active');
    if (state.verified) throw new ConflictException('the email address is already verified');
    await this.limitMail(state.email);
    await this.sendVerification(userId, state.email);
  }

  /** Mark the email the token was sent to as verified. */
  async verifyEmail(token: string): Promise<void> {
    const userId = await this.db.transaction(async (tx) => {
      const id = await this.useToken(token, 'verify-email', tx);
      if (id) await this.markVerified(id, tx);
      return id;
    });
    if (!userId) throw new BadRequestException('the verification token is not valid (used, expired, or for another address)');
    this.state.delete(userId);
  }

  private async markVerified(userId: string, db: Queryable): Promise<void> {
    if (U.verifiedColumn) {
      await this.users.updateColumns(
        this.key(userId),
        { [U.verifiedColumn]: U.verifiedKind === 'bool' ? true : new Date().toISOString() },
        db,
      );
    } else {
      await db.query(
        `INSERT INTO ${ACCOUNTS} (user_id, email_verified_at) VALUES ($1::${U.idType}, now())
         ON CONFLICT (user_id) DO UPDATE SET email_verified_at = COALESCE(${ACCOUNTS}.email_verified_at, now())`,
        [userId],
      );
    }
  }

  /**
   * Always the same answer (202), at the same speed, whether or not the email belongs to an
   * account: the lookup, the token and the email happen after the response.
   */
  async forgotPassword(email: string): Promise<void> {
    const normalized = normalize(email);
    await this.limitMail(normalized);
    void this.sendReset(normalized).catch((e: unknown) =>
      this.logger.error(`password reset for an account failed: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  private async sendReset(normalized: string): Promise<void> {
    const { rows } = await this.credentials(`lower(u.${U.email})`, normalized);
    const c = rows[0];
    if (!c || (U.status && c.status !== U.activeStatus)) return;
    const token = await this.newToken(c.id, c.email, 'reset-password', this.config.resetTtlMinutes);
    this.mail.sendLater({
      to: c.email,
      subject: `Reset your password for ${this.config.issuer}`,
      text: `Choose a new password with POST /auth/password/reset and the ${this.link('/reset-password', token)}\n\nIt works once and expires in ${this.config.resetTtlMinutes} minutes. If you did not ask for it, ignore this message: your password stays as it is.`,
    });
  }

  /**
   * Set a new password with an emailed token: every session of the account is closed (refresh
   * tokens revoked, access tokens issued before now refused), the lock is lifted, and the email
   * counts as verified (the token proves the mailbox).
   */
  async resetPassword(token: string, password: string): Promise<void> {
    const hash = await hashPassword(password);
    const userId = await this.db.transaction(async (tx) => {
      const id = await this.useToken(token, 'reset-password', tx);
      if (!id) return undefined;
      await this.users.updateColumns(this.key(id), { [U.passwordHashColumn]: hash }, tx);
      await this.markVerified(id, tx);
      await this.closeSessions(id, tx);
      const sets = [U.failedLogins && `${U.failedLogins} = 0`, U.lockedUntil && `${U.lockedUntil} = NULL`].filter(Boolean);
      if (sets.length) await tx.query(`UPDATE ${U.table} SET ${sets.join(', ')} WHERE ${U.id} = $1::${U.idType}`, [id]);
      return id;
    });
    if (!userId) throw new BadRequestException('the reset token is not valid (used or expired)');
    this.state.delete(userId);
  }

  /** Change the password of the signed-in user (the current one is needed); other sessions close. */
  async changePassword(userId: string, current: string, next: string): Promise<void> {
    const { rows } = await this.credentials(`u.${U.id}`, userId);
    const c = rows[0];
    const ok = await this.secretCheck(
      userId,
      async () => Boolean(c?.password_hash && (await verifyPassword(c.password_hash, current))) || false,
    );
    if (!ok) throw new UnauthorizedException('the current password is wrong');
    const hash = await hashPassword(next);
    await this.db.transaction(async (tx) => {
      await this.users.updateColumns(this.key(userId), { [U.passwordHashColumn]: hash }, tx);
      await this.closeSessions(userId, tx);
    });
    this.state.delete(userId);
  }

  private async closeSessions(userId: string, db: Queryable): Promise<void> {
    await db.query(`UPDATE ${U.refreshTable} SET revoked_at = now() WHERE user_id = $1::${U.idType} AND revoked_at IS NULL`, [userId]);
    await db.query(
      `INSERT INTO ${ACCOUNTS} (user_id, session_version) VALUES ($1::${U.idType}, 1)
       ON CONFLICT (user_id) DO UPDATE SET session_version = ${ACCOUNTS}.session_version + 1`,
      [userId],
    );
  }

  // --- Second factor ----------------------------------------------------------------------

  private openSecret(c: Credentials): Buffer | undefined {
    if (!c.tfa_secret || !this.box) return undefined;
    const opened = this.box.open(c.tfa_secret);
    if (!opened)
      throw new Error(
        'a second-factor secret cannot be decrypted: is AUTH_ENCRYPTION_KEY (or AUTH_ENCRYPTION_PREVIOUS_KEYS) the key it was sealed with?',
      );
    if (opened.stale) void this.storeSecret(c.id, this.box.seal(opened.plain)).catch(() => undefined);
    return opened.plain;
  }

  private async storeSecret(userId: string, sealed: string | null, db: Queryable = this.db): Promise<void> {
    if (U.tfaSecretColumn) {
      await this.users.updateColumns(this.key(userId), { [U.tfaSecretColumn]: sealed }, db);
    } else {
      await db.query(
        `INSERT INTO ${ACCOUNTS} (user_id, totp_secret) VALUES ($1::${U.idType}, $2)
         ON CONFLICT (user_id) DO UPDATE SET totp_secret = EXCLUDED.totp_secret`,
        [userId, sealed],
      );
    }
  }

  /** A valid code, used for the first time (codes are single-use: a replay inside its 30 s window is refused). */
  private async useCode(userId: string, secret: Buffer, code: string): Promise<boolean> {
    const step = verifyTotp(secret, code);
    if (step === null) return false;
    const { rowCount } = await this.db.query(
      `INSERT INTO ${ACCOUNTS} (user_id, totp_last_step) VALUES ($1::${U.idType}, $2)
       ON CONFLICT (user_id) DO UPDATE SET totp_last_step = EXCLUDED.totp_last_step
         WHERE ${ACCOUNTS}.totp_last_step IS NULL OR ${ACCOUNTS}.totp_last_step < EXCLUDED.totp_last_step`,
      [userId, step],
    );
    return rowCount === 1;
  }

  private requireSecondFactorColumns(): void {
    if (!U.twoFactorEnabled || !U.twoFactorEnabledColumn || !this.box)
      throw new ForbiddenException('this users table has no second factor columns');
  }

  /** Start enabling the second factor: a new secret, active once verified. */
  async startTwoFactor(userId: string, email: string): Promise<{ secret: string; otpauthUrl: string }> {
    this.requireSecondFactorColumns();
    // A stolen access token must not be enough to replace (and so remove) a working second factor.
    const { rows } = await this.credentials(`u.${U.id}`, userId);
    if (rows[0]?.tfa_enabled) throw new ConflictException('the second factor is already on; disable it with a code first');
    const secret = newTotpSecret();
    await this.db.transaction(async (tx) => {
      await this.storeSecret(userId, this.box!.seal(secret), tx);
      await this.users.updateColumns(this.key(userId), { [U.twoFactorEnabledColumn!]: false }, tx);
    });
    const url = otpauthUrl(this.config.issuer, email, secret);
    return { secret: new URL(url).searchParams.get('secret') ?? '', otpauthUrl: url };
  }

  async verifyTwoFactor(userId: string, code: string, enable: boolean): Promise<void> {
    this.requireSecondFactorColumns();
    const { rows } = await this.credentials(`u.${U.id}`, userId);
    const c = rows[0];
    if (!c) throw new UnauthorizedException('the account is gone');
    const secret = this.openSecret(c);
    const ok = await this.secretCheck(userId, async () => (secret !== undefined && (await this.useCode(userId, secret, code))) || false);
    if (!ok) throw new UnauthorizedException('invalid one-time code');
    await this.db.transaction(async (tx) => {
      await this.users.updateColumns(this.key(userId), { [U.twoFactorEnabledColumn!]: enable }, tx);
      if (!enable) await this.storeSecret(userId, null, tx);
    });
  }
}
