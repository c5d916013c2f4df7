import {
  BadRequestException,
  ConflictException,
  Injectable,
  NotFoundException,
  type PipeTransform,
  UnprocessableEntityException,
} from '@nestjs/common';
import { createHash } from 'node:crypto';
import { reduce } from '../../events/reducer.js';
import { binder, type CrudRepository } from '../crud/repository.js';
import { DatabaseService, type Queryable } from '../database/database.service.js';
import { requestContext } from '../http/request-context.js';
import { EVENTS } from './event-store.tables.js';
import { EVENT_SELECT as SELECT, type Row, decodePosition, encodePosition, toEvent } from './event-row.js';
import { eventSettings } from './events.settings.js';
import type { EventInput, FeedEvent, StoredEvent } from './types.js';

/** Most events one append may carry, and one read may return. */
export const MAX_APPEND = 1000;
export const MAX_READ = 1000;

const c = EVENTS.col;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Checks a stream id (a path parameter) before it reaches a query. */
export class AggregateIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (typeof value !== 'string' || !EVENTS.aggregateIdPattern.test(value)) {
      throw new BadRequestException(`not a stream id (${EVENTS.aggregateIdName})`);
    }
    return value;
  }
}

function intParam(raw: unknown, name: string, fallback: number | undefined, min: number, max: number): number | undefined {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new BadRequestException(`${name}: an integer from ${min} to ${max}`);
  return n;
}

/** The version an append expects: the body's `expectedVersion`, or `If-Match` (`"5"`, `W/"5"`, `5`). */
export function expectedVersion(body: number | undefined, ifMatch: string | undefined): number | undefined {
  if (ifMatch === undefined || ifMatch === '' || ifMatch === '*') return body;
  const m = /^(?:W\/)?"?(\d{1,15})"?$/.exec(ifMatch.trim());
  if (!m) throw new BadRequestException('If-Match: the stream version you read, e.g. "5"');
  const v = Number(m[1]);
  if (body !== undefined && body !== v) throw new BadRequestException('expectedVersion and If-Match disagree');
  return v;
}

export interface AppendResult {
  events: StoredEvent[];
  aggregateId: string;
  /** The stream's version after the append. */
  version: number;
  /** The same request was appended before: this is its first result. */
  replayed: boolean;
}

export interface AppendRequest {
  aggregateType?: string;
  expectedVersion?: number;
  events: EventInput[];
}

/**
 * The event store: appends with optimistic concurrency, stream and feed reads, state from
 * snapshots and a reducer. Every statement runs with the events resource's extensions (tenant
 * scope, own rows), like its CRUD routes.
 */
@Injectable()
export class EventStore {
  constructor(private readonly db: DatabaseService) {}

  /**
   * Append events to a stream, all or none. Appends to one stream are serialized (an advisory
   * lock per stream, then the stream's version); `expectedVersion` (or If-Match) must be the
   * version before the append, else 409 with the current version. UNIQUE (aggregate, version)
   * stays the last line of defence. The same request again — the same event ids, or the same
   * Idempotency-Key — returns the first result and appends nothing.
   */
  async append(
    repo: CrudRepository,
    aggregateId: string,
    req: AppendRequest,
    opts: { idempotencyKey?: string; causationId?: string } = {},
  ): Promise<AppendResult> {
    if (req.events.length === 0) throw new BadRequestException('events: at least one');
    if (req.events.length > MAX_APPEND) throw new BadRequestException(`events: at most ${MAX_APPEND} per append`);
    const ctx = requestContext();
    const key = opts.idempotencyKey?.trim();
    if (key !== undefined && (key.length === 0 || key.length > 200)) throw new BadRequestException('Idempotency-Key: 1 to 200 characters');
    if (opts.causationId !== undefined && c.causation && EVENTS.cast.causation === 'uuid' && !UUID.test(opts.causationId)) {
      throw new BadRequestException('X-Causation-Id: a UUID');
    }
    const scope = ctx?.userId ?? '';
    const fingerprint = createHash('sha256').update(JSON.stringify({ aggregateId, req })).digest('hex');
    return this.db.transaction((tx) =>
      repo.withScope(
        async (q, s) => {
          if (key !== undefined) {
            await q.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`nestgen:append:${scope}:${key}`]);
            const prior = await q.query('SELECT request_hash, response FROM nestgen.event_appends WHERE scope = $1 AND key = $2', [
              scope,
              key,
            ]);
            const p = prior.rows[0] as { request_hash: string; response: AppendResult } | undefined;
            if (p) {
              if (p.request_hash !== fingerprint)
                throw new UnprocessableEntityException('Idempotency-Key was already used for another request');
              return { ...p.response, replayed: true };
            }
          }
          await q.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`nestgen:stream:${EVENTS.table}:${aggregateId}`]);
          const replay = await this.sameEvents(q, s, aggregateId, req.events);
          if (replay) return replay;
          const head = await this.head(q, s, aggregateId);
          if (req.expectedVersion !== undefined && req.expectedVersion !== head.version) {
            throw new ConflictException({
              message: `expected the stream at version ${req.expectedVersion}, it is at ${head.version}`,
              details: { currentVersion: head.version, expectedVersion: req.expectedVersion },
            });
          }
          const kind = req.aggregateType ?? head.kind ?? undefined;
          if (EVENTS.aggregateKindRequired && kind === undefined) throw new BadRequestException('aggregateType: required for a new stream');
          if (head.kind !== null && req.aggregateType !== undefined && req.aggregateType !== head.kind) {
            throw new ConflictException({
              message: `the stream is a ${head.kind}, not a ${req.aggregateType}`,
              details: { aggregateType: head.kind },
            });
          }
          const events = await this.insert(q, s.insert, aggregateId, kind, head.version, req.events, opts.causationId);
          const result: AppendResult = { events, aggregateId, version: head.version + events.length, replayed: false };
          await this.snapshotIfDue(q, s, aggregateId, kind ?? null, head.version, result.version);
          if (key !== undefined) {
            await q.query('INSERT INTO nestgen.event_appends (scope, key, request_hash, response) VALUES ($1, $2, $3, $4::jsonb)', [
              scope,
              key,
              fingerprint,
              JSON.stringify(result),
            ]);
          }
          return result;
        },
        'INSERT',
        tx,
      ),
    );
  }

  /** The stream's version and kind (0 and null for a new stream). */
  private async head(q: Queryable, s: Scope, aggregateId: string): Promise<{ version: number; kind: string | null }> {
    const params: unknown[] = [];
    const bind = binder(params);
    const conds = [`e.${c.aggregate} = ${bind(aggregateId, EVENTS.cast.aggregate)}`, ...s.where(bind, 'read')];
    const kind = c.aggregateKind ? `e.${c.aggregateKind}::text` : 'NULL::text';
    // The last event of the stream (an index on (aggregate, version) finds it at once).
    const r = await q.query(
      `SELECT e.${c.version}::bigint::text AS version, ${kind} AS kind FROM ${EVENTS.table} e WHERE ${conds.join(' AND ')} ORDER BY e.${c.version} DESC LIMIT 1`,
      params,
    );
    const row = r.rows[0] as { version: string; kind: string | null } | undefined;
    return row ? { version: Number(row.version), kind: row.kind } : { version: 0, kind: null };
  }

  /** Every event of the request is in the stream already (by id): its first result. */
  private async sameEvents(q: Queryable, s: Scope, aggregateId: string, events: EventInput[]): Promise<AppendResult | undefined> {
    const ids = events.map((e) => e.id).filter((id): id is string => id !== undefined);
    if (ids.length === 0) return undefined;
    if (new Set(ids).size !== ids.length) throw new BadRequestException('events: an id appears twice');
    const params: unknown[] = [];
    const bind = binder(params);
    const conds = [`e.${c.id}::text = ANY(${bind(ids)}::text[])`, ...s.where(bind, 'read')];
    const r = await q.query(
      `SELECT ${SELECT} FROM ${EVENTS.table} e WHERE ${conds.join(' AND ')} ORDER BY e.${c.aggregate}, e.${c.version}`,
      params,
    );
    const found = (r.rows as Row[]).map(toEvent);
    if (found.length === 0) return undefined;
    if (found.length !== events.length || ids.length !== events.length || found.some((e) => e.aggregateId !== aggregateId)) {
      throw new ConflictException({ message: 'some of these event ids are appended already', details: { ids: found.map((e) => e.id) } });
    }
    const version = Math.max(...found.map((e) => e.version));
    return { events: found, aggregateId, version, replayed: true };
  }

  private async insert(
    q: Queryable,
    server: [string, unknown][],
    aggregateId: string,
    kind: string | undefined,
    from: number,
    events: EventInput[],
    causation: string | undefined,
  ): Promise<StoredEvent[]> {
    const ctx = requestContext();
    const params: unknown[] = [];
    const bind = binder(params);
    const columns: string[] = [];
    const add = (column: string | null) => column !== null && columns.push(column);
    add(c.id);
    add(c.aggregate);
    add(c.aggregateKind);
    add(c.version);
    add(c.type);
    add(c.data);
    add(c.metadata);
    add(c.causation);
    add(c.correlation);
    add(c.actor);
    add(c.actorKind);
    for (const [column] of server) columns.push(`"${column.replace(/"/g, '""')}"`);
    const val = (v: unknown, cast?: string) => (v === undefined ? 'DEFAULT' : bind(v, cast));
    const rows = events.map((e, i) => {
      const row = [val(e.id, EVENTS.cast.id), bind(aggregateId, EVENTS.cast.aggregate)];
      if (c.aggregateKind) row.push(val(kind));
      row.push(bind(from + i + 1, 'integer'), bind(e.type), bind(JSON.stringify(e.data ?? null), 'jsonb'));
      if (c.metadata) row.push(val(e.metadata === undefined ? undefined : JSON.stringify(e.metadata), 'jsonb'));
      if (c.causation) row.push(val(e.causationId ?? causation, EVENTS.cast.causation));
      if (c.correlation) row.push(val(e.correlationId ?? ctx?.correlationId, EVENTS.cast.correlation));
      if (c.actor) row.push(val(ctx?.userId, EVENTS.cast.actor));
      if (c.actorKind) row.push(val(ctx?.userId === undefined ? undefined : 'user'));
      for (const [, v] of server) row.push(bind(v));
      return `(${row.join(', ')})`;
    });
    const r = await q.query(
      `INSERT INTO ${EVENTS.table} AS e (${columns.join(', ')}) VALUES ${rows.join(', ')} RETURNING ${SELECT}`,
      params,
    );
    return (r.rows as Row[]).map(toEvent).sort((a, b) => a.version - b.version);
  }

  /** A stream's events from `fromVersion` (default 1) to `toVersion`, in order. */
  async stream(
    repo: CrudRepository,
    aggregateId: string,
    query: { fromVersion?: unknown; toVersion?: unknown; limit?: unknown },
  ): Promise<{ events: StoredEvent[]; version: number; next?: number }> {
    const from = intParam(query.fromVersion, 'fromVersion', 1, 1, Number.MAX_SAFE_INTEGER) as number;
    const to = intParam(query.toVersion, 'toVersion', undefined, 1, Number.MAX_SAFE_INTEGER);
    const limit = intParam(query.limit, 'limit', 100, 1, MAX_READ) as number;
    return repo.withScope(async (q, s) => {
      const head = await this.head(q, s, aggregateId);
      if (head.version === 0) throw new NotFoundException('no such stream');
      const events = await this.read(q, s, aggregateId, from - 1, to, limit + 1);
      const more = events.length > limit;
      if (more) events.pop();
      return { events, version: head.version, next: more ? events[events.length - 1].version + 1 : undefined };
    });
  }

  /** Events of a stream after version `after`, up to `to`, at most `limit`. */
  private async read(
    q: Queryable,
    s: Scope,
    aggregateId: string,
    after: number,
    to: number | undefined,
    limit: number,
  ): Promise<StoredEvent[]> {
    const params: unknown[] = [];
    const bind = binder(params);
    const conds = [
      `e.${c.aggregate} = ${bind(aggregateId, EVENTS.cast.aggregate)}`,
      `e.${c.version} > ${bind(after, 'bigint')}`,
      ...s.where(bind, 'read'),
    ];
    if (to !== undefined) conds.push(`e.${c.version} <= ${bind(to, 'bigint')}`);
    const r = await q.query(
      `SELECT ${SELECT} FROM ${EVENTS.table} e WHERE ${conds.join(' AND ')} ORDER BY e.${c.version} LIMIT ${bind(limit, 'integer')}`,
      params,
    );
    return (r.rows as Row[]).map(toEvent);
  }

  /**
   * Every event in commit order after position `after`, optionally of some types or one
   * correlation id. Only events of transactions older than every one still running are returned
   * (`pg_snapshot_xmin`), and positions follow (transaction, sequence): an event that commits
   * later can never land behind a position a reader has passed.
   */
  async feed(
    repo: CrudRepository,
    query: { after?: unknown; limit?: unknown; type?: unknown; correlationId?: unknown },
  ): Promise<{ events: FeedEvent[]; next: string }> {
    const after = decodePosition(query.after);
    const limit = intParam(query.limit, 'limit', 100, 1, MAX_READ) as number;
    const types = query.type === undefined ? [] : (Array.isArray(query.type) ? query.type : [query.type]).map(String);
    if (types.some((t) => t.length === 0 || t.length > 200) || types.length > 50)
      throw new BadRequestException('type: up to 50 event types');
    const correlation = query.correlationId === undefined ? undefined : String(query.correlationId);
    if (correlation !== undefined && (!c.correlation || (EVENTS.cast.correlation === 'uuid' && !UUID.test(correlation)))) {
      throw new BadRequestException(c.correlation ? 'correlationId: a UUID' : 'correlationId: events have no correlation id');
    }
    return repo.withScope(async (q, s) => {
      const params: unknown[] = [];
      const bind = binder(params);
      const conds = [
        `(l.tx, l.seq) > (${bind(after.tx, 'xid8')}, ${bind(after.seq, 'bigint')})`,
        'l.tx < pg_snapshot_xmin(pg_current_snapshot())',
        ...s.where(bind, 'read'),
      ];
      if (types.length) conds.push(`e.${c.type}::text = ANY(${bind(types)}::text[])`);
      if (correlation !== undefined && c.correlation) conds.push(`e.${c.correlation} = ${bind(correlation, EVENTS.cast.correlation)}`);
      const r = await q.query(
        `SELECT l.tx::text AS "__tx", l.seq::text AS "__seq", ${SELECT} FROM nestgen.event_log l JOIN ${EVENTS.table} e ON e.${c.id} = l.event_id WHERE ${conds.join(' AND ')} ORDER BY l.tx, l.seq LIMIT ${bind(limit, 'integer')}`,
        params,
      );
      const rows = r.rows as Row[];
      const events = rows.map((row) => ({ ...toEvent(row), position: encodePosition(row.__tx as string, row.__seq as string) }));
      const last = rows[rows.length - 1];
      return { events, next: last ? encodePosition(last.__tx as string, last.__seq as string) : encodePosition(after.tx, after.seq) };
    });
  }

  /** The state of a stream at `version` (default: its last): the latest snapshot at or before it, and the events after it, folded by src/events/reducer.ts. */
  async state(
    repo: CrudRepository,
    aggregateId: string,
    query: { version?: unknown },
  ): Promise<{ aggregateId: string; version: number; snapshotVersion: number; state: Record<string, unknown> }> {
    const at = intParam(query.version, 'version', undefined, 1, Number.MAX_SAFE_INTEGER);
    return repo.withScope(async (q, s) => {
      const head = await this.head(q, s, aggregateId);
      if (head.version === 0) throw new NotFoundException('no such stream');
      const version = Math.min(at ?? head.version, head.version);
      return { aggregateId, ...(await this.fold(q, s, aggregateId, version)) };
    });
  }

  /** Take a snapshot of a stream now (at its current version). */
  async snapshot(
    repo: CrudRepository,
    aggregateId: string,
  ): Promise<{ aggregateId: string; version: number; snapshotVersion: number; state: Record<string, unknown> }> {
    if (!EVENTS.snapshots) throw new NotFoundException('this event store keeps no snapshots');
    return this.db.transaction((tx) =>
      repo.withScope(
        async (q, s) => {
          await q.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`nestgen:stream:${EVENTS.table}:${aggregateId}`]);
          const head = await this.head(q, s, aggregateId);
          if (head.version === 0) throw new NotFoundException('no such stream');
          const folded = await this.fold(q, s, aggregateId, head.version);
          await this.saveSnapshot(q, aggregateId, head.kind, head.version, folded.state);
          return { aggregateId, version: head.version, snapshotVersion: head.version, state: folded.state };
        },
        undefined,
        tx,
      ),
    );
  }

  /** Fold a stream up to `version` from its latest snapshot at or before it. */
  private async fold(
    q: Queryable,
    s: Scope,
    aggregateId: string,
    version: number,
  ): Promise<{ version: number; snapshotVersion: number; state: Record<string, unknown> }> {
    let state: Record<string, unknown> = {};
    let from = 0;
    const snap = EVENTS.snapshots;
    if (snap) {
      const r = await q.query(
        `SELECT s.${snap.version}::bigint::text AS version, s.${snap.state} AS state FROM ${snap.table} s WHERE s.${snap.aggregate} = $1::${EVENTS.cast.aggregate} AND s.${snap.version} <= $2 ORDER BY s.${snap.version} DESC LIMIT 1`,
        [aggregateId, version],
      );
      const row = r.rows[0] as { version: string; state: unknown } | undefined;
      if (row && typeof row.state === 'object' && row.state !== null && !Array.isArray(row.state)) {
        state = row.state as Record<string, unknown>;
        from = Number(row.version);
      }
    }
    const snapshotVersion = from;
    while (from < version) {
      const events = await this.read(q, s, aggregateId, from, version, MAX_READ);
      if (events.length === 0) break;
      for (const e of events) state = reduce(state, e);
      from = events[events.length - 1].version;
    }
    return { version: from, snapshotVersion, state };
  }

  private async saveSnapshot(
    q: Queryable,
    aggregateId: string,
    kind: string | null,
    version: number,
    state: Record<string, unknown>,
  ): Promise<void> {
    const snap = EVENTS.snapshots;
    if (!snap) return;
    const columns = [snap.aggregate, snap.version, snap.state];
    const values = [`$1::${EVENTS.cast.aggregate}`, '$2', '$3::jsonb'];
    const params: unknown[] = [aggregateId, version, JSON.stringify(state)];
    if (snap.aggregateKind) {
      columns.push(snap.aggregateKind);
      values.push('$4');
      params.push(kind);
    }
    await q.query(`INSERT INTO ${snap.table} (${columns.join(', ')}) VALUES (${values.join(', ')}) ON CONFLICT DO NOTHING`, params);
  }

  /** Every EVENT_SNAPSHOT_EVERY events of a stream, a snapshot, in the append's transaction. */
  private async snapshotIfDue(
    q: Queryable,
    s: Scope,
    aggregateId: string,
    kind: string | null,
    before: number,
    after: number,
  ): Promise<void> {
    const every = eventSettings().snapshotEvery;
    if (!EVENTS.snapshots || every === 0 || Math.floor(after / every) === Math.floor(before / every)) return;
    const at = Math.floor(after / every) * every;
    const folded = await this.fold(q, s, aggregateId, at);
    await this.saveSnapshot(q, aggregateId, kind, at, folded.state);
  }
}

type Scope = { where(bind: ReturnType<typeof binder>, mode?: 'read' | 'write'): string[]; insert: [string, unknown][] };
