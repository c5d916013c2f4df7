import { defineSettings } from '../config.js';
import { EVENTS } from './event-store.tables.js';

/** Section `events`: the processors (projections, outbox), snapshots and NATS. */
export const eventSettings = defineSettings('events', (env) => ({
  /** Run the processors in this instance (off: another instance runs them). */
  processors: env.oneOf('EVENT_PROCESSORS', ['on', 'off'], 'on') === 'on',
  pollMs: env.int('EVENT_POLL_MS', 1000, 50, 600_000),
  batchSize: env.int('EVENT_BATCH_SIZE', 100, 1, 10_000),
  maxFailures: env.int('EVENT_PROCESSOR_MAX_FAILURES', 10, 1, 1_000_000),
  idempotencyHours: env.int('EVENT_IDEMPOTENCY_HOURS', 24, 1, 24 * 365),
  /** A snapshot every this many events of a stream (0: on demand only); the generated default otherwise. */
  snapshotEvery: env.int('EVENT_SNAPSHOT_EVERY', EVENTS.snapshotEvery, 0, 1_000_000),
  natsUrls: env.list('NATS_URL'),
  natsSubjectPrefix: env.text('NATS_SUBJECT_PREFIX', 'events'),
  natsStream: env.text('NATS_STREAM', 'EVENTS'),
}));
