import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit, Optional } from '@nestjs/common';
import { DelayedError, type Job, Queue, Worker } from 'bullmq';
import { appSettings } from '../config.js';
import { ident } from '../crud/resource.js';
import { DatabaseService, type Queryable, systemSetting } from '../database/database.service.js';
import { Channels } from './channels.js';
import { RealtimePublisher } from './realtime.js';
import { notifySettings } from './notify.settings.js';
import { NOTIFY_TABLES } from './notify.tables.js';
import { optedOut, type Preferences, quietDelay } from './preferences.js';
import { type NotifyDef, URGENT } from './types.js';

const QUEUE = 'notifications';

// The workers' own work reads and settles every recipient's rows (own-rows' row-level security
// lets the app's system transactions through with this setting; registered here too so that
// `node dist/worker.js`, which loads no resource, has it).
systemSetting('nestgen.owner_bypass', 'on');

/** Redis for the queue: REDIS_URL is required (the queue is what makes delivery durable). */
function connection() {
  notifySettings();
  const url = appSettings().redisUrl;
  if (!url) throw new Error('REDIS_URL is not set: notifications are delivered through a queue in Redis');
  return { url, maxRetriesPerRequest: null };
}

/** Settled: nothing more to do for the notification. */
const SETTLED = new Set(['sent', 'skipped', 'expired', 'dead', 'read']);

interface Row {
  recipient: string;
  status: string | null;
  channel: string | null;
  title: string | null;
  message: string;
  category: string | null;
  priority: number | null;
  expired: boolean;
  email: string | null;
  createdAt: string | null;
}

/**
 * The queue of notifications. The relay hands outbox entries (written with their notification,
 * in one transaction) to BullMQ, with the notification's id as the job id, so handing one over
 * twice is harmless; an entry stays until a worker settles its notification, and one handed over
 * but not settled after NOTIFY_REQUEUE_SECONDS is handed over again (a lost Redis). Workers run
 * with NOTIFY_WORKER=on (the default; `node dist/worker.js` always).
 */
@Injectable()
export class NotificationQueue implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Notify');
  private readonly prefix = `${appSettings().redisPrefix}bull`;
  private readonly queue = new Queue(QUEUE, { connection: connection(), prefix: this.prefix });
  private worker?: Worker;
  private timer?: NodeJS.Timeout;
  private relaying = false;
  private readonly attempts = notifySettings().attempts;
  private readonly backoffMs = notifySettings().backoffMs;
  private readonly relayMs = notifySettings().relayMs;
  private readonly requeueSeconds = notifySettings().requeueSeconds;
  private readonly concurrency = notifySettings().concurrency;
  /** A worker that stops answering (killed, frozen) loses its job after this long; another retries it. */
  private readonly lockMs = notifySettings().lockMs;

  constructor(
    private readonly db: DatabaseService,
    @Optional() @Inject(Channels) private readonly channels?: Channels,
    @Optional() private readonly realtime?: RealtimePublisher,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.relay(), this.relayMs);
    this.timer.unref();
    if (notifySettings().worker && this.channels) {
      this.worker = new Worker(QUEUE, (job) => this.work(job), {
        connection: connection(),
        prefix: this.prefix,
        concurrency: this.concurrency,
        lockDuration: this.lockMs,
        stalledInterval: this.lockMs,
        maxStalledCount: 3,
      });
      this.worker.on('error', (e) => this.logger.error(`worker: ${e.message}`));
    }
  }

  /** Hand waiting outbox entries to the queue now (after a send commits; and on a timer). */
  async relay(): Promise<void> {
    if (this.relaying) return;
    this.relaying = true;
    try {
      for (;;) {
        const n = await this.db.transaction(async (c) => {
          const r = await c.query(
            `SELECT notification_id AS id, system, priority, tenant, greatest(0, (extract(epoch FROM send_at - now()) * 1000)::bigint)::text AS delay
               FROM nestgen.notification_outbox
              WHERE enqueued_at IS NULL OR enqueued_at < now() - make_interval(secs => $1)
              ORDER BY created_at LIMIT 100 FOR UPDATE SKIP LOCKED`,
            [this.requeueSeconds],
          );
          const rows = r.rows as { id: string; system: string; priority: number; tenant: string | null; delay: string }[];
          for (const x of rows) {
            await this.queue.add(
              'deliver',
              { id: x.id, system: x.system, tenant: x.tenant },
              {
                jobId: x.id,
                delay: Number(x.delay),
                // BullMQ: 1 is the highest priority; none is after every prioritised job... so all get one.
                priority: x.priority >= URGENT ? 1 : x.priority === 1 ? 2 : 3,
                attempts: this.attempts,
                backoff: { type: 'exponential', delay: this.backoffMs },
                removeOnComplete: { count: 1000 },
                removeOnFail: { count: 1000 },
              },
            );
          }
          if (rows.length) {
            await c.query('UPDATE nestgen.notification_outbox SET enqueued_at = now() WHERE notification_id = ANY($1::text[])', [
              rows.map((x) => x.id),
            ]);
          }
          return rows.length;
        });
        if (n < 100) return;
      }
    } catch (e) {
      this.logger.error(`relay: ${(e as Error).message}`);
    } finally {
      this.relaying = false;
    }
  }

  /** One delivery attempt of one notification. */
  private async work(job: Job<{ id: string; system: string; tenant?: string | null }>): Promise<void> {
    const def = NOTIFY_TABLES[job.data.system];
    if (!def) throw new Error(`unknown notification system ${job.data.system}`);
    // A tenant-scoped notification is read and settled inside its organization.
    const system = <T>(fn: (q: Queryable) => Promise<T>) => this.system(fn, def, job.data.tenant ?? null);
    const n = def.notifications;
    const id = job.data.id;
    const row = await system((q) => this.load(q, def, id));
    if (!row || (row.status !== null && SETTLED.has(row.status))) {
      await this.done(id);
      return;
    }
    const channel = row.channel ?? 'in-app';
    if (row.expired) {
      await this.settle(def, job.data.tenant ?? null, id, 'expired', 'expired before it could be delivered');
      return;
    }
    if (channel === 'email' && !row.email) {
      // Only to an address its owner confirmed: never mail an address someone merely typed in.
      await this.settle(def, job.data.tenant ?? null, id, 'skipped', 'the recipient has no confirmed email address');
      return;
    }
    const prefs = await system((q) => this.preferences(q, def, row.recipient));
    const out = optedOut(prefs, channel, row.category);
    if (out) {
      await this.settle(def, job.data.tenant ?? null, id, 'skipped', out);
      return;
    }
    const wait = quietDelay(prefs, new Date(), (row.priority ?? 0) >= URGENT, row.category);
    if (wait > 0) {
      // Quiet hours: delayed, not dropped, and not an attempt.
      await system((q) => q.query(`UPDATE ${n.table} SET ${ident(n.status)} = 'scheduled' WHERE ${ident(n.id)} = $1`, [id]));
      await job.moveToDelayed(Date.now() + wait, job.token);
      throw new DelayedError();
    }
    const provider = this.channels?.get(channel);
    const attempt = job.attemptsMade + 1;
    // The attempt is on record before anything is sent: one that never ends (the worker was
    // killed) stays visible as interrupted once the next one starts.
    const delivery = await system((q) => this.startDelivery(q, def, id, provider?.name ?? channel));
    try {
      if (!provider) throw new Error(`no channel ${channel}`);
      const sent = await provider.send({ id, recipient: row.recipient, address: row.email, title: row.title, message: row.message });
      await system(async (q) => {
        await this.endDelivery(q, def, delivery, 'delivered', sent.provider, sent.providerId, null);
        const sets = [`${ident(n.status)} = 'sent'`];
        if (n.sentAt) sets.push(`${ident(n.sentAt)} = now()`);
        if (n.failedReason) sets.push(`${ident(n.failedReason)} = NULL`);
        await q.query(`UPDATE ${n.table} SET ${sets.join(', ')} WHERE ${ident(n.id)} = $1`, [id]);
      });
      await this.done(id);
      if (channel === 'in-app' && def.realtime) {
        await this.realtime
          ?.publish(row.recipient, { id, title: row.title, message: row.message, category: row.category, createdAt: row.createdAt })
          .catch((e: Error) => this.logger.warn(`realtime: ${e.message} (the notification is in the inbox)`));
      }
    } catch (e) {
      const reason = (e as Error).message.slice(0, 1000);
      const last = attempt >= (job.opts.attempts ?? 1);
      await system(async (q) => {
        await this.endDelivery(q, def, delivery, 'failed', provider?.name ?? channel, null, reason);
        const sets = [`${ident(n.status)} = $2`];
        const params: unknown[] = [id, last ? 'dead' : 'retrying'];
        if (n.failedReason) {
          params.push(reason);
          sets.push(`${ident(n.failedReason)} = $${params.length}`);
        }
        if (n.retryCount) {
          params.push(attempt);
          sets.push(`${ident(n.retryCount)} = $${params.length}`);
        }
        await q.query(`UPDATE ${n.table} SET ${sets.join(', ')} WHERE ${ident(n.id)} = $1`, params);
      });
      if (last) await this.done(id);
      throw e;
    }
  }

  /** The app's own work: every recipient's rows (own-rows lifted for this transaction), inside the notification's organization. */
  private system<T>(fn: (q: Queryable) => Promise<T>, def?: NotifyDef, tenant?: string | null): Promise<T> {
    return this.db.systemTransaction(async (q) => {
      if (def?.tenant) await q.query('SELECT set_config($1, $2, true)', [def.tenant.setting, tenant ?? '']);
      return fn(q);
    });
  }

  private async load(q: Queryable, def: NotifyDef, id: string): Promise<Row | undefined> {
    const n = def.notifications;
    const u = def.users;
    const col = (c: string | undefined, as: string, cast = 'text') => (c ? `x.${ident(c)}::${cast} AS ${as}` : `NULL::${cast} AS ${as}`);
    const r = await q.query(
      `SELECT x.${ident(n.recipient)}::text AS recipient, x.${ident(n.status)} AS status, ${col(n.channel, 'channel')}, ${col(n.title, 'title')},
              x.${ident(n.message)} AS message, ${col(n.category, 'category')}, ${col(n.priority, 'priority', 'integer')},
              ${n.expiresAt ? `coalesce(x.${ident(n.expiresAt)}::timestamptz <= now(), false)` : 'false'} AS expired,
              ${n.createdAt ? `to_char(x.${ident(n.createdAt)}::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` : 'NULL'} AS "createdAt",
              (SELECT u.${ident(u.email)}::text FROM ${u.table} u WHERE u.${ident(u.id)} = x.${ident(n.recipient)} AND ${u.verifiedSql}${u.deletedAt ? ` AND u.${ident(u.deletedAt)} IS NULL` : ''}) AS email
         FROM ${n.table} x WHERE x.${ident(n.id)} = $1`,
      [id],
    );
    return r.rows[0] as Row | undefined;
  }

  private async preferences(q: Queryable, def: NotifyDef, recipient: string): Promise<Preferences | undefined> {
    const p = def.preferences;
    if (!p) return undefined;
    const channels = Object.entries(p.channels);
    const cols = [
      ...channels.map(([, c], i) => `${ident(c)} AS "c${i}"`),
      p.categories ? `${ident(p.categories)} AS categories` : 'NULL AS categories',
      p.quietStart ? `${ident(p.quietStart)}::text AS "quietStart"` : 'NULL AS "quietStart"',
      p.quietEnd ? `${ident(p.quietEnd)}::text AS "quietEnd"` : 'NULL AS "quietEnd"',
      p.timezone ? `${ident(p.timezone)} AS timezone` : 'NULL AS timezone',
    ];
    const r = await q.query(`SELECT ${cols.join(', ')} FROM ${p.table} WHERE ${ident(p.user)}::text = $1`, [recipient]);
    const row = r.rows[0] as Record<string, unknown> | undefined;
    if (!row) return undefined;
    return {
      channels: Object.fromEntries(channels.map(([ch], i) => [ch, row[`c${i}`] as boolean | null])),
      categories: (row.categories as Preferences['categories']) ?? null,
      quietStart: (row.quietStart as string | null) ?? null,
      quietEnd: (row.quietEnd as string | null) ?? null,
      timezone: (row.timezone as string | null) ?? null,
    };
  }

  /** A delivery row for an attempt starting now ('sending'); earlier ones left 'sending' were interrupted. */
  private async startDelivery(q: Queryable, def: NotifyDef, id: string, provider: string): Promise<string | undefined> {
    const d = def.deliveries;
    if (!d) return undefined;
    await q.query(
      `UPDATE ${d.table} SET ${ident(d.status)} = 'interrupted' WHERE ${ident(d.notification)} = $1 AND ${ident(d.status)} = 'sending'`,
      [id],
    );
    const cols = [ident(d.notification), ident(d.status)];
    const params: unknown[] = [id, 'sending'];
    if (d.provider) {
      cols.push(ident(d.provider));
      params.push(provider);
    }
    const r = await q.query(
      `INSERT INTO ${d.table} (${cols.join(', ')}) VALUES (${params.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING ${ident(d.id)}::text AS id`,
      params,
    );
    return (r.rows[0] as { id: string }).id;
  }

  /** How the attempt ended: delivered (with the provider's message id) or failed (with why). */
  private async endDelivery(
    q: Queryable,
    def: NotifyDef,
    row: string | undefined,
    status: string,
    provider: string,
    providerId: string | null,
    error: string | null,
  ): Promise<void> {
    const d = def.deliveries;
    if (!d || row === undefined) return;
    const sets = [`${ident(d.status)} = $2`];
    const params: unknown[] = [row, status];
    const add = (c: string | undefined, v: unknown) => {
      if (!c) return;
      params.push(v);
      sets.push(`${ident(c)} = $${params.length}`);
    };
    add(d.provider, provider);
    add(d.providerId, providerId);
    add(d.error, error);
    if (d.deliveredAt && status === 'delivered') sets.push(`${ident(d.deliveredAt)} = now()`);
    await q.query(`UPDATE ${d.table} SET ${sets.join(', ')} WHERE ${ident(d.id)}::text = $1`, params);
  }

  private async settle(def: NotifyDef, tenant: string | null, id: string, status: string, reason: string): Promise<void> {
    const n = def.notifications;
    await this.system(
      async (q) => {
        const sets = [`${ident(n.status)} = $2`];
        const params: unknown[] = [id, status];
        if (n.failedReason) {
          params.push(reason);
          sets.push(`${ident(n.failedReason)} = $3`);
        }
        await q.query(`UPDATE ${n.table} SET ${sets.join(', ')} WHERE ${ident(n.id)} = $1`, params);
      },
      def,
      tenant,
    );
    await this.done(id);
  }

  /** The notification is settled: its outbox entry goes. */
  private async done(id: string): Promise<void> {
    await this.db.query('DELETE FROM nestgen.notification_outbox WHERE notification_id = $1', [id]);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.worker?.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
  }
}
