import { BadRequestException } from '@nestjs/common';
import type { Queryable } from '../database/database.service.js';
import { EVENTS } from './event-store.tables.js';
import type { StoredEvent } from './types.js';

const c = EVENTS.col;

/** The API's shape of an event, over alias `e`. */
export const EVENT_SELECT = [
  `e.${c.id}::text AS "id"`,
  `e.${c.aggregate}::text AS "aggregateId"`,
  `${c.aggregateKind ? `e.${c.aggregateKind}` : 'NULL'}::text AS "aggregateType"`,
  `e.${c.version}::bigint::text AS "version"`,
  `e.${c.type}::text AS "type"`,
  `e.${c.data} AS "data"`,
  `${c.metadata ? `e.${c.metadata}` : 'NULL::jsonb'} AS "metadata"`,
  `${c.causation ? `e.${c.causation}` : 'NULL'}::text AS "causationId"`,
  `${c.correlation ? `e.${c.correlation}` : 'NULL'}::text AS "correlationId"`,
  `${c.actor ? `e.${c.actor}` : 'NULL'}::text AS "actorId"`,
  `${c.actorKind ? `e.${c.actorKind}` : 'NULL'}::text AS "actorType"`,
  `${c.occurredAt ? `e.${c.occurredAt}` : 'NULL::timestamptz'} AS "occurredAt"`,
].join(', ');

/** Where the feed starts: before every event. */
export const ORIGIN = { tx: '0', seq: '0' };

export type Row = Record<string, unknown>;

export function toEvent(row: Row): StoredEvent {
  return {
    id: row.id as string,
    aggregateId: row.aggregateId as string,
    aggregateType: (row.aggregateType as string | null) ?? null,
    version: Number(row.version),
    type: row.type as string,
    data: row.data,
    metadata: row.metadata ?? null,
    causationId: (row.causationId as string | null) ?? null,
    correlationId: (row.correlationId as string | null) ?? null,
    actorId: (row.actorId as string | null) ?? null,
    actorType: (row.actorType as string | null) ?? null,
    occurredAt: (row.occurredAt as string | null) ?? null,
  };
}

/** `tx.seq` of the commit-ordered log (`nestgen.event_log`). */
export function encodePosition(tx: string, seq: string): string {
  return `${tx}.${seq}`;
}

export function decodePosition(raw: unknown): { tx: string; seq: string } {
  if (raw === undefined || raw === '') return ORIGIN;
  if (typeof raw !== 'string' || !/^\d{1,20}\.\d{1,19}$/.test(raw))
    throw new BadRequestException('after: a position from a feed (meta.nextPosition)');
  const [tx, seq] = raw.split('.');
  return { tx, seq };
}

/** The feed position of an event, from its id. */
export async function positionOf(q: Queryable, eventId: string): Promise<{ tx: string; seq: string }> {
  const r = await q.query(`SELECT tx::text AS tx, seq::text AS seq FROM nestgen.event_log WHERE event_id = $1::${EVENTS.cast.id}`, [
    eventId,
  ]);
  const row = r.rows[0] as { tx: string; seq: string } | undefined;
  if (!row) throw new Error(`event ${eventId} is not in nestgen.event_log`);
  return row;
}
