import { Injectable, Logger, NotFoundException, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type pg from 'pg';
import { DatabaseService } from '../database/database.service.js';
import { EVENTS } from './event-store.tables.js';
import { PROJECTIONS } from './projections.js';
import { EVENT_SELECT as SELECT, ORIGIN, positionOf, toEvent } from './event-row.js';
import type { Projection } from './types.js';
import { eventSettings } from './events.settings.js';

const c = EVENTS.col;
const p = EVENTS.processors;

export interface ProcessorStatus {
  name: string;
  status: string;
  lastEventId: string | null;
  lastProcessedAt: string | null;
  error: string | null;
  updatedAt: string | null;
  /** A projection of this app handles it (others are rows of the table only). */
  known: boolean;
}

/**
 * Runs the projections (src/core/events/projections.ts): each processor reads the events after
 * its checkpoint in commit order, hands each to its projection and moves the checkpoint, all in
 * one transaction, so a projection's writes and its checkpoint commit together (a crash between
 * events loses nothing and applies nothing twice). Its checkpoint row is locked FOR UPDATE SKIP
 * LOCKED for the batch: among several instances of the app one works on a processor at a time.
 * Woken by LISTEN nestgen_events (db/07-events.sql notifies every append), and by polling
 * (EVENT_POLL_MS) when a notification is missed. EVENT_PROCESSORS=off leaves the processing to
 * other instances (the admin routes still work). A failing projection is retried with growing
 * waits; after EVENT_PROCESSOR_MAX_FAILURES in a row its status is `failed` until resumed.
 */
@Injectable()
export class EventProcessors implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('EventProcessors');
  private readonly enabled = eventSettings().processors;
  private readonly pollMs = eventSettings().pollMs;
  private readonly batchSize = eventSettings().batchSize;
  private readonly maxFailures = eventSettings().maxFailures;
  private readonly keyHours = eventSettings().idempotencyHours;
  private listener?: pg.PoolClient;
  private sweeper?: NodeJS.Timeout;
  private waiters: (() => void)[] = [];
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly db: DatabaseService) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const projection of PROJECTIONS) await this.db.query(p.register, [projection.name]);
    // Idempotency keys are remembered EVENT_IDEMPOTENCY_HOURS.
    const sweep = () =>
      this.db
        .query('DELETE FROM nestgen.event_appends WHERE created_at < now() - make_interval(hours => $1)', [this.keyHours])
        .catch((e: Error) => this.logger.warn(`idempotency keys not swept: ${e.message}`));
    void sweep();
    this.sweeper = setInterval(() => void sweep(), 3_600_000);
    this.sweeper.unref();
    if (!this.enabled) return;
    try {
      this.listener = await this.db.pool.connect();
      this.listener.on('notification', () => this.wakeAll());
      this.listener.on('error', (e) => this.logger.warn(`LISTEN connection: ${e.message}; polling every ${this.pollMs} ms`));
      await this.listener.query('LISTEN nestgen_events');
    } catch (e) {
      this.logger.warn(`LISTEN failed (${(e as Error).message}); polling every ${this.pollMs} ms`);
    }
    for (const projection of PROJECTIONS) this.loops.push(this.loop(projection));
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.wakeAll();
    await Promise.allSettled(this.loops);
    if (this.listener) {
      await this.listener.query('UNLISTEN *').catch(() => undefined);
      this.listener.release();
    }
  }

  private wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Wait for a notification, at most `ms`. */
  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  private async loop(projection: Projection): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let handled: number;
      try {
        handled = await this.batch(projection);
        failures = 0;
      } catch (e) {
        failures++;
        const message = e instanceof Error ? e.message : String(e);
        this.logger.error(`processor ${projection.name} failed (${failures} in a row): ${message}`);
        const status = failures >= this.maxFailures ? 'failed' : 'running';
        await this.db.query(p.fail, [projection.name, status, message.slice(0, 2000)]).catch(() => undefined);
        await this.idle(Math.min(60_000, 250 * 2 ** Math.min(failures, 8)));
        continue;
      }
      if (handled === 0) await this.idle(this.pollMs);
    }
  }

  /** One batch of a processor; the number of events it handled (0: nothing to do, or another instance holds it). */
  async batch(projection: Projection): Promise<number> {
    return this.db.systemTransaction(async (tx) => {
      const claimed = await tx.query(p.claim, [projection.name]);
      const row = claimed.rows[0] as { status: string; lastEventId: string | null } | undefined;
      if (!row || row.status !== 'running') return 0;
      const after = row.lastEventId ? await positionOf(tx, row.lastEventId) : ORIGIN;
      const r = await tx.query(
        `SELECT ${SELECT} FROM nestgen.event_log l JOIN ${EVENTS.table} e ON e.${c.id} = l.event_id WHERE (l.tx, l.seq) > ($1::xid8, $2::bigint) AND l.tx < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY l.tx, l.seq LIMIT $3`,
        [after.tx, after.seq, this.batchSize],
      );
      const events = (r.rows as Record<string, unknown>[]).map(toEvent);
      for (const event of events) await projection.handle(event, tx);
      if (events.length) await tx.query(p.checkpoint, [projection.name, events[events.length - 1].id]);
      return events.length;
    });
  }

  async list(): Promise<ProcessorStatus[]> {
    const { rows } = await this.db.query(p.list);
    return (rows as Omit<ProcessorStatus, 'known'>[]).map((r) => ({ ...r, known: PROJECTIONS.some((x) => x.name === r.name) }));
  }

  private projection(name: string): Projection {
    const found = PROJECTIONS.find((x) => x.name === name);
    if (!found) throw new NotFoundException(`no processor ${name} (processors: ${PROJECTIONS.map((x) => x.name).join(', ') || 'none'})`);
    return found;
  }

  private async one(name: string): Promise<ProcessorStatus> {
    const found = (await this.list()).find((r) => r.name === name);
    if (!found) throw new NotFoundException(`no processor ${name}`);
    return found;
  }

  async pause(name: string): Promise<ProcessorStatus> {
    this.projection(name);
    await this.db.query(p.setStatus, [name, 'paused']);
    return this.one(name);
  }

  async resume(name: string): Promise<ProcessorStatus> {
    this.projection(name);
    await this.db.query(p.setStatus, [name, 'running']);
    this.wakeAll();
    return this.one(name);
  }

  /** Forget the projection and its checkpoint, then apply every event again from the first. */
  async replay(name: string): Promise<ProcessorStatus> {
    const projection = this.projection(name);
    await this.db.systemTransaction(async (tx) => {
      // Waits for a batch in progress (its row lock) on any instance.
      await tx.query(p.lock, [name]);
      await projection.reset(tx);
      await tx.query(p.reset, [name]);
    });
    this.wakeAll();
    return this.one(name);
  }
}
