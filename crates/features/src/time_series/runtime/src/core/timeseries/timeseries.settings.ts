import { defineSettings } from '../config.js';

/** Section `time-series`: the limits of queries and ingests, and the maintenance job. */
export const timeSeriesSettings = defineSettings('time-series', (env) => ({
  maxBuckets: env.int('TS_MAX_BUCKETS', 10_000, 1, 10_000_000),
  maxRangeMs: env.int('TS_MAX_RANGE_SECONDS', 366 * 86_400, 1, 100 * 366 * 86_400) * 1000,
  maxPoints: env.int('TS_MAX_POINTS', 200_000, 1, 100_000_000),
  ingestMaxRows: env.int('TS_INGEST_MAX_ROWS', 5_000_000, 1, 1_000_000_000),
  ingestMaxBytes: env.int('TS_INGEST_MAX_BYTES', 1 << 30, 1024, Number.MAX_SAFE_INTEGER),
  ingestMaxLineBytes: env.int('TS_INGEST_MAX_LINE_BYTES', 1 << 20, 256, 1 << 30),
  ingestConcurrency: env.int('TS_INGEST_CONCURRENCY', 2, 1, 1000),
  ingestIdleMs: env.int('TS_INGEST_IDLE_SECONDS', 60, 1, 86_400) * 1000,
  /** Partitions made ahead, retention and rollup refreshes (off: another instance or cron does it). */
  maintenance: env.oneOf('TS_MAINTENANCE', ['on', 'off'], 'on') === 'on',
  maintenanceMs: env.int('TS_MAINTENANCE_SECONDS', 300, 1, 7 * 86_400) * 1000,
  maintenanceTimeoutMs: env.int('TS_MAINTENANCE_TIMEOUT_SECONDS', 3600, 1, 7 * 86_400) * 1000,
}));
