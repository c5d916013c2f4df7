import {
  ForbiddenException,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Redis } from 'ioredis';
import { Server, type Socket } from 'socket.io';
import { AUTH_CONFIG, type AuthConfig } from '../auth/auth.config.js';
import { AuthService } from '../auth/auth.service.js';
import { bearerToken, verifyAccessToken } from '../auth/jwt.js';
import { ident } from '../crud/resource.js';
import { appSettings } from '../config.js';
import { DatabaseService } from '../database/database.service.js';
import { RateLimiter } from '../http/rate-limit.js';
import { PERMISSION_CHECKER, type PermissionChecker } from '../rbac/permission.decorator.js';
import { TENANT_RESOLVER, type TenantResolver } from '../tenancy/tenant.decorator.js';
import { notifySettings } from './notify.settings.js';
import { NOTIFY_TABLES } from './notify.tables.js';

/** What a connected client receives for each of its in-app notifications. */
export interface Pushed {
  id: string;
  title: string | null;
  message: string;
  category: string | null;
  createdAt: string | null;
}

const channel = () => `${appSettings().redisPrefix}notify:realtime`;
const realtime = () => Object.values(NOTIFY_TABLES).some((d) => d.realtime);

/** The workers' side: a delivered in-app notification, announced to every API instance. */
@Injectable()
export class RealtimePublisher implements OnApplicationShutdown {
  private redis?: Redis;

  async publish(recipient: string, n: Pushed): Promise<void> {
    if (!realtime()) return;
    this.redis ??= new Redis(appSettings().redisUrl ?? '', { maxRetriesPerRequest: 2 });
    await this.redis.publish(channel(), JSON.stringify({ to: recipient, n }));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis?.quit().catch(() => undefined);
  }
}

/**
 * In-app notifications pushed over WebSockets (Socket.IO at /realtime, websocket transport). The
 * handshake carries the access token (`auth: { token }`, or an `Authorization: Bearer` header)
 * and is refused without a valid one for an active account (or without `<table>:read`, or past
 * NOTIFY_SOCKETS_PER_MINUTE handshakes from one address, or NOTIFY_SOCKETS_PER_USER sockets);
 * the session is checked again at each delivery and the socket closed when its token expires,
 * its password changes or its account stops; each socket joins its user's room
 * only, so a client receives its own notifications and nobody else's. A client coming back sends
 * `auth: { since: <ISO time of the last one it saw> }` and first receives what it missed (up to
 * 50, oldest first; for tenant-scoped notifications, of the organization named in
 * `auth.organization`). Instances share deliveries through Redis pub/sub, so a worker anywhere
 * reaches a socket on any instance.
 */
@Injectable()
export class RealtimeGateway implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Realtime');
  private io?: Server;
  private sub?: Redis;
  private readonly limiter = RateLimiter.shared();
  /** Handshakes one address may make a minute, and sockets one user may hold at once. */
  private readonly perMinute = notifySettings().socketsPerMinute;
  private readonly perUser = notifySettings().socketsPerUser;

  constructor(
    private readonly adapter: HttpAdapterHost,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    private readonly auth: AuthService,
    private readonly db: DatabaseService,
    @Optional() @Inject(TENANT_RESOLVER) private readonly tenancy?: TenantResolver,
    @Optional() @Inject(PERMISSION_CHECKER) private readonly rbac?: PermissionChecker,
  ) {}

  /** The organization a client names for its missed notifications, if the user may act in it. */
  private async organization(userId: string, named: unknown): Promise<string | undefined> {
    if (typeof named !== 'string' || !this.tenancy) return undefined;
    try {
      return (await this.tenancy.resolve({ userId, header: named, method: 'GET' })).tenant;
    } catch (e) {
      if (e instanceof ForbiddenException) return undefined;
      throw e;
    }
  }

  onApplicationBootstrap(): void {
    if (!realtime() || !this.adapter.httpAdapter) return;
    this.io = new Server(this.adapter.httpAdapter.getHttpServer(), { path: '/realtime', transports: ['websocket'], serveClient: false });
    this.io.use((socket, next) => {
      this.admit(socket).then(
        (refused) => (refused ? next(new Error(refused)) : next()),
        () => next(new Error('the account check is unavailable; retry later')),
      );
    });
    this.io.on('connection', (socket) => {
      this.connected(socket).catch((e: Error) => this.logger.error(`replaying missed notifications: ${e.message}`));
    });
    this.sub = new Redis(appSettings().redisUrl ?? '', { maxRetriesPerRequest: null });
    this.sub.on('error', (e: Error) => this.logger.error(`Redis: ${e.message}`));
    void this.sub.subscribe(channel());
    this.sub.on('message', (_c: string, raw: string) => {
      try {
        const { to, n } = JSON.parse(raw) as { to: string; n: Pushed };
        // Checked again at each delivery: a password change, a suspension or an expired token
        // closes the socket before anything more reaches it.
        void this.live(to)
          .then(() => this.io?.to(`user:${to}`).emit('notification', n))
          .catch((e: Error) => this.logger.error(`realtime delivery: ${e.message}`));
      } catch {
        // not ours
      }
    });
  }

  /** Why a handshake is refused, or undefined: rate, token, account, permission, sockets per user. */
  private async admit(socket: Socket): Promise<string | undefined> {
    const hit = await this.limiter.hit(`realtime-ip:${socket.handshake.address}`, this.perMinute, 60_000);
    if (!hit.allowed) return `too many connections from this address; retry in ${hit.retryAfterSeconds} s`;
    const fromAuth = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    const header = socket.handshake.headers.authorization;
    const token = typeof fromAuth === 'string' ? fromAuth : bearerToken(header);
    if (!token) return 'unauthorized: send a valid access token (auth.token)';
    const claims = await verifyAccessToken(this.config, token);
    if (!claims) return 'unauthorized: send a valid access token (auth.token)';
    const state = await this.auth.accountState(claims.sub);
    if (!state || state.sessionVersion !== claims.sv) return 'unauthorized: send a valid access token (auth.token)';
    if (claims.sid !== undefined && !(await this.auth.sessionOpen(claims.sid)))
      return 'unauthorized: send a valid access token (auth.token)';
    // Reading notifications through the API needs <table>:read; so does hearing them.
    for (const def of Object.values(NOTIFY_TABLES).filter((d) => d.realtime)) {
      const read = def.permission.replace(/:send$/, ':read');
      if (this.rbac && !(await this.rbac.can(claims.sub, read))) return `forbidden: requires ${read}`;
    }
    if (this.io && (await this.io.in(`user:${claims.sub}`).fetchSockets()).length >= this.perUser) {
      return `too many connections for this user (NOTIFY_SOCKETS_PER_USER=${this.perUser})`;
    }
    socket.data.userId = claims.sub;
    socket.data.sv = claims.sv;
    socket.data.sid = claims.sid;
    // The socket lasts as long as its token: past its expiry the client reconnects with a new one.
    const exp = (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString() || '{}') as { exp?: number }).exp;
    if (typeof exp === 'number') socket.data.exp = exp * 1000;
    return undefined;
  }

  /** Sockets of `userId` whose session is still good; the others are closed. */
  private async live(userId: string): Promise<void> {
    if (!this.io) return;
    const sockets = await this.io.in(`user:${userId}`).fetchSockets();
    if (sockets.length === 0) return;
    const state = await this.auth.accountState(userId).catch(() => undefined);
    for (const s of sockets) {
      const expired = typeof s.data.exp === 'number' && s.data.exp <= Date.now();
      // Signed out, or its refresh token replayed: the sign-in's sockets close too.
      const sid = s.data.sid as string | undefined;
      const ended = sid !== undefined && !(await this.auth.sessionOpen(sid).catch(() => false));
      if (!state || state.sessionVersion !== s.data.sv || expired || ended) s.disconnect(true);
    }
  }

  private async connected(socket: Socket): Promise<void> {
    const userId = socket.data.userId as string;
    await socket.join(`user:${userId}`);
    if (typeof socket.data.exp === 'number') {
      const t = setTimeout(() => socket.disconnect(true), Math.max(0, (socket.data.exp as number) - Date.now()));
      t.unref();
      socket.on('disconnect', () => clearTimeout(t));
    }
    const auth = socket.handshake.auth as { since?: unknown; organization?: unknown } | undefined;
    const since = auth?.since;
    if (typeof since !== 'string' || Number.isNaN(Date.parse(since))) return;
    // Tenant-scoped notifications are replayed for the organization the client names (auth.organization), if a member.
    const tenant = Object.values(NOTIFY_TABLES).some((d) => d.tenant) ? await this.organization(userId, auth?.organization) : undefined;
    for (const def of Object.values(NOTIFY_TABLES)) {
      const n = def.notifications;
      const created = n.createdAt;
      if (!def.realtime || !created) continue;
      if (def.tenant && !tenant) continue;
      const col = (c: string | undefined) => (c ? ident(c) : 'NULL');
      const rows = await this.db.systemTransaction(async (q) => {
        if (def.tenant && tenant) await q.query('SELECT set_config($1, $2, true)', [def.tenant.setting, tenant]);
        return (
          await q.query(
            `SELECT ${ident(n.id)}::text AS id, ${col(n.title)} AS title, ${ident(n.message)} AS message, ${col(n.category)} AS category, ${ident(created)} AS "createdAt"
               FROM ${n.table}
              WHERE ${ident(n.recipient)}::text = $1 AND ${ident(created)} > $2::timestamptz AND ${ident(n.status)} = 'sent'${n.channel ? ` AND ${ident(n.channel)} = 'in-app'` : ''}
              ORDER BY ${ident(created)} LIMIT 50`,
            [userId, since],
          )
        ).rows as Pushed[];
      });
      for (const r of rows) socket.emit('notification', { ...r, createdAt: r.createdAt ? new Date(r.createdAt).toISOString() : null });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sub?.quit().catch(() => undefined);
    await new Promise<void>((resolve) => (this.io ? this.io.close(() => resolve()) : resolve()));
  }
}
