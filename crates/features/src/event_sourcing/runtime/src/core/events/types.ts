import type { Queryable } from '../database/database.service.js';

/** An event as the API returns it and processors receive it. */
export interface StoredEvent {
  id: string;
  /** The stream it belongs to. */
  aggregateId: string;
  aggregateType: string | null;
  /** 1, 2, 3, ... within its stream. */
  version: number;
  type: string;
  data: unknown;
  metadata: unknown;
  causationId: string | null;
  correlationId: string | null;
  actorId: string | null;
  actorType: string | null;
  occurredAt: string | null;
}

/** An event of the global feed, with its position (pass it as `after` to read on). */
export interface FeedEvent extends StoredEvent {
  position: string;
}

/** One event to append. */
export interface EventInput {
  id?: string;
  type: string;
  data: unknown;
  metadata?: Record<string, unknown>;
  causationId?: string;
  correlationId?: string;
}

/**
 * A projection: a processor hands it every event once, in commit order, inside the transaction
 * that also moves the processor's checkpoint (so its writes and the checkpoint commit together).
 */
export interface Projection {
  /** The processor's name: its checkpoint row. */
  readonly name: string;
  handle(event: StoredEvent, db: Queryable): Promise<void>;
  /** Forget what it built, before a replay from the first event. */
  reset(db: Queryable): Promise<void>;
}

/** How an aggregate's state follows from one more event (src/events/reducer.ts). */
export type Reducer = (state: Record<string, unknown>, event: StoredEvent) => Record<string, unknown>;

/** The event store's tables as the schema has them (src/core/events/event-store.tables.ts). */
export interface EventStoreTables {
  /** Quoted, schema-qualified. */
  table: string;
  /** Well-formed stream ids (checked before a query). */
  aggregateIdPattern: RegExp;
  aggregateIdName: string;
  /** A snapshot every this many events of a stream (0: on demand only); EVENT_SNAPSHOT_EVERY overrides. */
  snapshotEvery: number;
  /** A new stream needs its kind (the column is NOT NULL). */
  aggregateKindRequired: boolean;
  /** Quoted column of each role; null where the table has none. */
  col: {
    id: string;
    aggregate: string;
    aggregateKind: string | null;
    version: string;
    type: string;
    data: string;
    metadata: string | null;
    causation: string | null;
    correlation: string | null;
    actor: string | null;
    actorKind: string | null;
    occurredAt: string | null;
  };
  /** SQL types of parameters. */
  cast: { id: string; aggregate: string; causation: string; correlation: string; actor: string };
  snapshots: { table: string; aggregate: string; aggregateKind: string | null; version: string; state: string } | null;
  /** Statements on the processor checkpoint table. */
  processors: {
    register: string;
    claim: string;
    checkpoint: string;
    fail: string;
    setStatus: string;
    list: string;
    lock: string;
    reset: string;
  };
}
