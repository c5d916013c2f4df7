import { Injectable, Logger, UnprocessableEntityException, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import { SERIES } from './timeseries.tables.js';
import type { SeriesDef } from './types.js';
import { timeSeriesSettings } from './timeseries.settings.js';

/** Partitions start at this instant plus multiples of their width (TimescaleDB's origin). */
const ORIGIN_MS = Date.UTC(2000, 0, 3);

/** A series as the database registry (nestgen.time_series, db/08-time-series.sql) has it. */
export interface SeriesSettings {
  /** timescaledb, partitioned or plain: how the database stores it. */
  storage: string;
  retention: string | null;
  retentionSeconds: number | null;
  acceptFutureSeconds: number;
}

/**
 * The registry of the database: each series' storage and retention (read again every
 * maintenance round, so `UPDATE nestgen.time_series SET retention = ...` takes effect), and the
 * partitions known to exist (made before rows are written).
 */
@Injectable()
export class TimeSeriesRegistry {
  private readonly cache = new Map<string, { at: number; settings: SeriesSettings }>();
  private readonly partitions = new Map<string, Set<number>>();

  constructor(private readonly db: DatabaseService) {}

  async settings(def: SeriesDef, fresh = false): Promise<SeriesSettings> {
    const hit = this.cache.get(def.name);
    if (hit && !fresh && Date.now() - hit.at < 60_000) return hit.settings;
    const { rows } = await this.db.query<{
      storage: string;
      retention: string | null;
      retention_seconds: number | null;
      accept_future_seconds: number;
    }>(
      `SELECT storage, retention::text AS retention, extract(epoch FROM retention)::float8 AS retention_seconds,
              extract(epoch FROM accept_future)::float8 AS accept_future_seconds
         FROM nestgen.time_series WHERE series = $1`,
      [def.name],
    );
    if (!rows[0]) throw new Error(`${def.name} is not in nestgen.time_series: run db/08-time-series.sql`);
    const r = rows[0];
    const settings: SeriesSettings = {
      storage: r.storage,
      retention: r.retention,
      retentionSeconds: r.retention_seconds,
      acceptFutureSeconds: r.accept_future_seconds,
    };
    this.cache.set(def.name, { at: Date.now(), settings });
    return settings;
  }

  /** Forget what was read (after a maintenance round dropped or made partitions). */
  forget(def: SeriesDef): void {
    this.cache.delete(def.name);
    this.partitions.delete(def.name);
  }

  private start(def: SeriesDef, ms: number): number {
    const w = def.partitionSeconds * 1000;
    return Math.floor((ms - ORIGIN_MS) / w) * w + ORIGIN_MS;
  }

  /**
   * Make sure partitions exist for [lo, hi] (ms) before rows are written: asks the database
   * (nestgen.ts_make_partitions, on a connection of its own) only for ranges not known to exist.
   */
  async ensurePartitions(def: SeriesDef, lo: number, hi: number): Promise<void> {
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return;
    let known = this.partitions.get(def.name);
    if (!known) {
      const { rows } = await this.db.query<{ lo: number }>(
        "SELECT (extract(epoch FROM lo) * 1000)::float8 AS lo FROM nestgen.ts_partitions($1::regclass) WHERE NOT is_default AND lo > '-infinity'",
        [def.name],
      );
      known = new Set(rows.map((r) => Number(r.lo)));
      this.partitions.set(def.name, known);
    }
    const w = def.partitionSeconds * 1000;
    let missing = false;
    for (let s = this.start(def, lo); s <= hi; s += w) {
      if (!known.has(s)) {
        missing = true;
        break;
      }
    }
    if (!missing) return;
    try {
      await this.db.query('SELECT nestgen.ts_make_partitions($1, $2, $3)', [def.name, new Date(lo), new Date(hi)]);
    } catch (e) {
      if ((e as { code?: string }).code === '54000') throw new UnprocessableEntityException((e as Error).message);
      throw e;
    }
    for (let s = this.start(def, lo); s <= hi; s += w) known.add(s);
  }
}

/** What GET .../storage answers. */
export interface StorageReport {
  series: string;
  storage: string;
  retention: string | null;
  partitions: Record<string, unknown> | null;
  rollups: Record<string, unknown>[];
}

export interface MaintenanceReport {
  series: string;
  storage: string;
  partitionsMade: number;
  droppedPartitions: string[];
  deletedRows: number;
  rollups: { rollup: string; refreshed: boolean; watermark?: string | null; busy?: boolean }[];
}

/**
 * The maintenance of every series, every TS_MAINTENANCE_SECONDS (and at start): partitions made
 * ahead of now, partitions past the retention dropped, rollup tables refreshed — each step in a
 * transaction of its own (db/08-time-series.sql; the database serializes the steps between
 * instances). TS_MAINTENANCE=off leaves it to other instances.
 */
@Injectable()
export class TimeSeriesMaintenance implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('TimeSeries');
  private readonly enabled = timeSeriesSettings().maintenance;
  private readonly everyMs = timeSeriesSettings().maintenanceMs;
  private readonly timeoutMs = timeSeriesSettings().maintenanceTimeoutMs;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly db: DatabaseService,
    private readonly registry: TimeSeriesRegistry,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const def of Object.values(SERIES)) {
      const s = await this.registry.settings(def, true);
      const how =
        s.storage === 'timescaledb'
          ? 'a TimescaleDB hypertable'
          : s.storage === 'partitioned'
            ? `partitions of ${def.partitionSeconds / 3600} h`
            : 'a plain table';
      this.logger.log(`${def.name}: ${how}; retention ${s.retention ?? 'none'}`);
    }
    if (!this.enabled) return;
    this.timer = setInterval(() => void this.runAll(), this.everyMs);
    this.timer.unref();
    void this.runAll();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  private runAll(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      for (const def of Object.values(SERIES)) {
        try {
          await this.run(def);
        } catch (e) {
          this.logger.error(`${def.name}: maintenance failed: ${(e as Error).message}`);
        }
      }
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * One step of the maintenance, in a transaction of its own whose statements may run for
   * TS_MAINTENANCE_TIMEOUT_SECONDS (a first rollup refresh reads the whole series; requests keep
   * DB_STATEMENT_TIMEOUT_MS).
   */
  private async step<T>(sql: string, param: string): Promise<T> {
    return this.db.transaction(async (c) => {
      await c.query("SELECT set_config('statement_timeout', $1, true)", [String(this.timeoutMs)]);
      return (await c.query(sql, [param])).rows[0].r as T;
    });
  }

  /** One maintenance round of a series, now. */
  async run(def: SeriesDef): Promise<MaintenanceReport> {
    const settings = await this.registry.settings(def, true);
    const report: MaintenanceReport = {
      series: def.name,
      storage: settings.storage,
      partitionsMade: 0,
      droppedPartitions: [],
      deletedRows: 0,
      rollups: [],
    };
    const expired = await this.step<{ droppedPartitions: string[]; deletedRows: number }>(
      'SELECT nestgen.ts_drop_expired($1) AS r',
      def.name,
    );
    report.droppedPartitions = expired.droppedPartitions;
    report.deletedRows = Number(expired.deletedRows);
    if (settings.storage === 'partitioned') {
      report.partitionsMade = await this.step<number>('SELECT nestgen.ts_prepare($1) AS r', def.name);
    }
    this.registry.forget(def);
    for (const r of def.rollups) {
      report.rollups.push(await this.step<MaintenanceReport['rollups'][number]>('SELECT nestgen.ts_refresh($1) AS r', r.name));
    }
    return report;
  }

  /** How the database stores a series now: its registry row, partitions and rollups. */
  async storage(def: SeriesDef): Promise<StorageReport> {
    const s = await this.registry.settings(def, true);
    const parts = (
      await this.db.query<{ n: number; first: Date | null; last: Date | null }>(
        `SELECT count(*)::int AS n, min(lo) AS first, max(hi) AS last FROM nestgen.ts_partitions($1::regclass) WHERE NOT is_default`,
        [def.name],
      )
    ).rows[0];
    const rollups = (
      await this.db.query<{ rollup: string; storage: string; watermark: Date | null; refreshed_at: Date | null; bucket: string }>(
        'SELECT rollup, storage, watermark, refreshed_at, bucket::text AS bucket FROM nestgen.time_series_rollups WHERE series = $1 ORDER BY rollup',
        [def.name],
      )
    ).rows;
    return {
      series: def.name,
      storage: s.storage,
      retention: s.retention,
      partitions:
        s.storage === 'partitioned'
          ? { count: parts.n, from: parts.first, to: parts.last, width: `${def.partitionSeconds} seconds` }
          : null,
      rollups: rollups.map((r) => ({
        rollup: r.rollup,
        storage: r.storage,
        bucket: r.bucket,
        watermark: r.watermark,
        refreshedAt: r.refreshed_at,
      })),
    };
  }
}
