import {
  BadRequestException,
  HttpException,
  Injectable,
  PayloadTooLargeException,
  RequestTimeoutException,
  ServiceUnavailableException,
  UnprocessableEntityException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { DatabaseService } from '../database/database.service.js';
import { binder, type CrudRepository } from '../crud/repository.js';
import { ident, typedParam } from '../crud/resource.js';
import { requestContext } from '../http/request-context.js';
import { copyLines, copyText } from './copy.js';
import { BodyError, type Format, records } from './parsers.js';
import { TimeSeriesRegistry } from './maintenance.js';
import type { IngestColumn, SeriesDef } from './types.js';
import { timeSeriesSettings } from './timeseries.settings.js';
import { parseUtc } from './time.js';

/** Rows per COPY into the staging table (and per INSERT from it). */
const CHUNK = 10_000;
/** ... or this many characters of COPY text, whichever comes first (rows may be long). */
const CHUNK_BYTES = 8 << 20;
/** Rows the database itself refuses (each found by bisection) before a request is given up. */
const MAX_REFUSED = 1000;
/** Rejected rows listed in a report (all are counted). */
const MAX_LISTED = 100;
/** Partitions start at this instant plus multiples of their width (TimescaleDB's origin). */
export const ORIGIN_MS = Date.UTC(2000, 0, 3);

export interface RejectedRow {
  line: number;
  row: number;
  reason: string;
}

export interface IngestReport {
  accepted: number;
  rejected: number;
  /** The first rejected rows (at most 100), in order. */
  errors: RejectedRow[];
  /** Valid rows were stored although some were rejected (`?partial=true`). */
  partial: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?$/;
const INT = /^-?\d{1,19}$/;
const DECIMAL = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const BOOL_TEXT: Record<string, boolean> = { true: true, t: true, '1': true, yes: true, false: false, f: false, '0': false, no: false };

/** A checked row: each column's value as COPY text, and its time (ms since the epoch). */
interface Checked {
  values: (string | null)[];
  time: number;
}

/** A value as text PostgreSQL reads for the column, or the reason it is not one. */
type Conv = { ok: string | null } | { err: string };

function scalar(c: IngestColumn, raw: unknown, fromText: boolean): Conv {
  const name = c.property;
  switch (c.kind) {
    case 'uuid':
      return typeof raw === 'string' && UUID.test(raw) ? { ok: raw.toLowerCase() } : { err: `${name} must be a UUID` };
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && INT.test(raw.trim()) ? Number(raw.trim()) : NaN;
      const max = c.intBits === 16 ? 32767 : 2147483647;
      return Number.isInteger(n) && n <= max && n >= -max - 1
        ? { ok: String(n) }
        : { err: `${name} must be an integer (${c.intBits}-bit)` };
    }
    case 'bigint': {
      const s = typeof raw === 'number' && Number.isSafeInteger(raw) ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
      if (!INT.test(s)) return { err: `${name} must be an integer (64-bit)` };
      const b = BigInt(s);
      return b <= 9223372036854775807n && b >= -9223372036854775808n ? { ok: s } : { err: `${name} must be an integer (64-bit)` };
    }
    case 'decimal': {
      const s = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
      return DECIMAL.test(s) ? { ok: s } : { err: `${name} must be a decimal number` };
    }
    case 'float': {
      const n = typeof raw === 'number' ? raw : fromText && typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      return Number.isFinite(n) ? { ok: String(n) } : { err: `${name} must be a finite number` };
    }
    case 'bool': {
      if (typeof raw === 'boolean') return { ok: raw ? 't' : 'f' };
      const b = fromText && typeof raw === 'string' ? BOOL_TEXT[raw.trim().toLowerCase()] : undefined;
      return b === undefined ? { err: `${name} must be true or false` } : { ok: b ? 't' : 'f' };
    }
    case 'date':
      return typeof raw === 'string' && DATE.test(raw) && parseUtc(raw) !== undefined
        ? { ok: raw }
        : { err: `${name} must be a date (YYYY-MM-DD)` };
    case 'timestamp': {
      if (typeof raw === 'number' || (fromText && typeof raw === 'string' && /^\d{10,16}$/.test(raw))) {
        const ms = Number(raw);
        return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? { ok: new Date(ms).toISOString() } : { err: `${name} must be a timestamp` };
      }
      // A time without an offset is UTC (the sessions' time zone); February 30 is refused.
      return typeof raw === 'string' && TIMESTAMP.test(raw) && parseUtc(raw) !== undefined
        ? { ok: raw }
        : { err: `${name} must be an ISO 8601 timestamp or milliseconds since 1970` };
    }
    case 'time':
      return typeof raw === 'string' && TIME.test(raw) ? { ok: raw } : { err: `${name} must be a time (HH:MM[:SS])` };
    case 'json': {
      if (fromText) {
        if (typeof raw !== 'string') return { err: `${name} must be JSON` };
        try {
          return { ok: JSON.stringify(JSON.parse(raw)) };
        } catch {
          return { err: `${name} must be JSON` };
        }
      }
      return { ok: JSON.stringify(raw) };
    }
    case 'bytes':
      return typeof raw === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(raw)
        ? { ok: `\\x${Buffer.from(raw, 'base64').toString('hex')}` }
        : { err: `${name} must be base64` };
    case 'enum':
    case 'text':
    case 'interval':
    case 'other':
    default: {
      if (typeof raw !== 'string') return { err: `${name} must be a string` };
      if (raw.includes('\u0000')) return { err: `${name} must not contain NUL characters` };
      return { ok: raw };
    }
  }
}

/** `{"a","b"}`: a PostgreSQL array literal of the elements' text. */
function arrayLiteral(items: (string | null)[]): string {
  return `{${items.map((x) => (x === null ? 'NULL' : `"${x.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join(',')}}`;
}

/** The checks of one column, compiled once per series. */
function checker(c: IngestColumn): (raw: unknown, fromText: boolean) => Conv {
  const allowed = c.values ? new Set(c.values) : undefined;
  const one = (raw: unknown, fromText: boolean): Conv => {
    const r = scalar(c, raw, fromText);
    if ('ok' in r && r.ok !== null) {
      if (allowed && !allowed.has(r.ok)) return { err: `${c.property} must be one of ${[...allowed].join(', ')}` };
      if (c.maxLength !== undefined && r.ok.length > c.maxLength && [...r.ok].length > c.maxLength) {
        return { err: `${c.property} must be at most ${c.maxLength} characters` };
      }
    }
    return r;
  };
  if (!c.array) return one;
  return (raw, fromText) => {
    let v = raw;
    if (fromText && typeof raw === 'string') {
      try {
        v = JSON.parse(raw);
      } catch {
        return { err: `${c.property} must be a JSON array` };
      }
    }
    if (!Array.isArray(v)) return { err: `${c.property} must be an array` };
    const out: (string | null)[] = [];
    for (const x of v) {
      if (x === null) {
        out.push(null);
        continue;
      }
      const r = one(x, false);
      if ('err' in r) return r;
      out.push(r.ok);
    }
    return { ok: arrayLiteral(out) };
  };
}

/** Rows of one series as the database will take them. */
class RowChecker {
  private readonly byName = new Map<string, number>();
  private readonly checks: ((raw: unknown, fromText: boolean) => Conv)[];
  private readonly timeIndex: number;

  constructor(
    private readonly def: SeriesDef,
    private readonly refused: ReadonlySet<string>,
  ) {
    def.ingest.forEach((c, i) => {
      this.byName.set(c.property, i);
      const bare = c.column.slice(1, -1).replace(/""/g, '"');
      if (!this.byName.has(bare)) this.byName.set(bare, i);
    });
    this.checks = def.ingest.map(checker);
    this.timeIndex = def.ingest.findIndex((c) => c.column === def.time.column);
  }

  /** CSV: the header's names must all be columns a row may carry. */
  header(names: string[]): void {
    for (const n of names) {
      if (!this.byName.has(n)) {
        throw new BadRequestException(
          this.refused.has(n)
            ? `column ${n} cannot be set`
            : `unknown column ${n} (columns: ${this.def.ingest.map((c) => c.property).join(', ')})`,
        );
      }
    }
  }

  check(
    value: Record<string, unknown>,
    fromText: boolean,
    now: number,
    window: { oldest?: number; newest: number; retention?: string },
    userId: string | undefined,
  ): Checked | string {
    const values: (string | null)[] = new Array(this.def.ingest.length).fill(null);
    for (const key in value) {
      const i = this.byName.get(key);
      if (i === undefined) return this.refused.has(key) ? `${key} cannot be set` : `unknown property ${key}`;
      const raw = value[key];
      if (raw === null || raw === undefined) continue;
      const r = this.checks[i](raw, fromText);
      if ('err' in r) return r.err;
      values[i] = r.ok;
    }
    let time = now;
    for (let i = 0; i < values.length; i++) {
      const c = this.def.ingest[i];
      if (values[i] === null) {
        if (c.required) return `${c.property} is required`;
        continue;
      }
      if (c.server === 'self' && values[i] !== userId) return `${c.property} may only be set to your own user id`;
      if (i === this.timeIndex) {
        time = parseUtc(values[i]!) ?? Number.NaN;
        if (this.def.naiveTime && /(Z|[+-]\d{2}(:?\d{2})?)$/i.test(values[i]!)) values[i] = new Date(time).toISOString().slice(0, -1);
      }
    }
    if (window.oldest !== undefined && time < window.oldest)
      return `${this.def.time.property} is older than the retention (${window.retention})`;
    if (time > window.newest) return `${this.def.time.property} is too far in the future`;
    return { values, time };
  }
}

interface SeriesSettings {
  storage: string;
  retentionMs?: number;
  retention?: string;
  acceptFutureMs: number;
}

/**
 * Ingest of a time series: a JSON array, NDJSON or CSV body (gzip or deflate allowed), read as a
 * stream and checked row by row; valid rows are copied (COPY ... FROM STDIN, 10,000 at a time)
 * into a temporary table and inserted from it in the caller's transaction, so row-level
 * security, server-set columns and triggers apply as to any insert. Partitions the rows need are
 * made first (on another connection: attaching a partition lets writers go on). All or nothing by
 * default: one bad row and nothing is stored (422 with the rows and reasons); `?partial=true`
 * stores the valid rows and reports the rest.
 */
@Injectable()
export class IngestService {
  readonly maxRows = timeSeriesSettings().ingestMaxRows;
  readonly maxBytes = timeSeriesSettings().ingestMaxBytes;
  readonly maxLineBytes = timeSeriesSettings().ingestMaxLineBytes;
  /** Ingests at once in this instance: each holds a connection (and another while it makes partitions). */
  readonly maxConcurrent = timeSeriesSettings().ingestConcurrency;
  /** A client that sends nothing for this long loses the request (408), and its transaction. */
  readonly idleMs = timeSeriesSettings().ingestIdleMs;
  private active = 0;
  private readonly checkers = new Map<SeriesDef, RowChecker>();

  constructor(
    private readonly db: DatabaseService,
    private readonly registry: TimeSeriesRegistry,
  ) {}

  private format(req: FastifyRequest): Format {
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]
      .trim()
      .toLowerCase();
    if (type === 'application/json') return 'json';
    if (type === 'application/x-ndjson' || type === 'application/jsonl') return 'ndjson';
    if (type === 'text/csv') return 'csv';
    throw new UnsupportedMediaTypeException('send application/json (an array of rows), application/x-ndjson or text/csv');
  }

  private source(req: FastifyRequest): Readable {
    const body = req.body as unknown;
    if (!(body instanceof Readable)) throw new BadRequestException('send the rows in the body');
    const encoding = String(req.headers['content-encoding'] ?? 'identity')
      .trim()
      .toLowerCase();
    const unzip =
      encoding === 'identity' || encoding === ''
        ? undefined
        : encoding === 'gzip' || encoding === 'x-gzip'
          ? createGunzip()
          : encoding === 'deflate'
            ? createInflate()
            : null;
    if (unzip === null) throw new UnsupportedMediaTypeException(`content-encoding ${encoding} is not supported (gzip, deflate)`);
    const wire = this.watched(body);
    if (!unzip) return wire;
    wire.on('error', (e) => unzip.destroy(e));
    return wire.pipe(unzip);
  }

  /**
   * The body as it comes off the wire, failed when the client sends nothing for
   * TS_INGEST_IDLE_SECONDS (408) or more than TS_INGEST_MAX_BYTES (413; compressed bodies are
   * counted after decompression too, by the parsers).
   */
  private watched(body: Readable): Readable {
    let bytes = 0;
    let timer: NodeJS.Timeout | undefined;
    const maxBytes = this.maxBytes;
    const idleMs = this.idleMs;
    const out: Transform = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        if (bytes > maxBytes) return done(new BodyError(`the body is larger than ${maxBytes} bytes (TS_INGEST_MAX_BYTES)`, 413));
        arm();
        done(null, chunk);
      },
      flush(done) {
        if (timer) clearTimeout(timer);
        done();
      },
    });
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        const e = new BodyError(`no data for ${idleMs / 1000} s (TS_INGEST_IDLE_SECONDS)`, 408);
        body.destroy(e);
        out.destroy(e);
      }, idleMs);
      timer.unref();
    };
    arm();
    out.once('close', () => timer && clearTimeout(timer));
    body.on('error', (e) => out.destroy(e));
    return body.pipe(out);
  }

  private async settings(def: SeriesDef): Promise<SeriesSettings> {
    const s = await this.registry.settings(def);
    return {
      storage: s.storage,
      retentionMs: s.retentionSeconds === null ? undefined : s.retentionSeconds * 1000,
      retention: s.retention ?? undefined,
      acceptFutureMs: s.acceptFutureSeconds * 1000,
    };
  }

  async ingest(def: SeriesDef, repo: CrudRepository, req: FastifyRequest, partialParam: unknown): Promise<IngestReport> {
    if (partialParam !== undefined && partialParam !== 'true' && partialParam !== 'false')
      throw new BadRequestException('partial: true or false');
    if (this.active >= this.maxConcurrent) {
      throw new ServiceUnavailableException(`${this.active} ingests are running in this instance (TS_INGEST_CONCURRENCY); retry shortly`);
    }
    this.active++;
    try {
      return await this.run(def, repo, req, partialParam === 'true');
    } finally {
      this.active--;
    }
  }

  private async run(def: SeriesDef, repo: CrudRepository, req: FastifyRequest, partial: boolean): Promise<IngestReport> {
    const format = this.format(req);
    const stream = this.source(req);
    const settings = await this.settings(def);
    const spec = repo.spec;
    const refused = new Set(
      spec.fields
        .filter((f) => !def.ingest.some((c) => c.column.slice(1, -1).replace(/""/g, '"') === f.column))
        .flatMap((f) => [f.property, f.column]),
    );
    let checker = this.checkers.get(def);
    if (!checker) {
      checker = new RowChecker(def, refused);
      this.checkers.set(def, checker);
    }
    const userId = requestContext()?.userId;
    const report: IngestReport = { accepted: 0, rejected: 0, errors: [], partial };
    const reject = (line: number, row: number, reason: string) => {
      report.rejected++;
      if (report.errors.length < MAX_LISTED) report.errors.push({ line, row, reason });
    };
    try {
      await this.db.transaction((client) =>
        repo.withScope(
          async (q, scope) => {
            const params: unknown[] = [];
            const bind = binder(params);
            // Columns the server sets, as on create: the extensions' (the tenant), the actors', the creation time.
            const server: string[] = [];
            const serverValues: string[] = [];
            for (const [column, value] of scope.insert) {
              const f = spec.fields.find((x) => x.column === column);
              server.push(ident(column));
              serverValues.push(bind(value, f?.sqlType));
            }
            for (const f of spec.fields.filter((x) => (x.server === 'create' || x.server === 'update') && userId !== undefined)) {
              if (scope.insert.some(([c]) => c === f.column)) continue;
              server.push(ident(f.column));
              serverValues.push(bind(userId, f.sqlType));
            }
            if (
              spec.createdAtColumn &&
              !def.ingest.some((c) => c.column === ident(spec.createdAtColumn!)) &&
              !server.includes(ident(spec.createdAtColumn))
            ) {
              server.push(ident(spec.createdAtColumn));
              serverValues.push('now()');
            }
            // The client's pauses count against the session too (a backstop for the idle timer).
            await q.query("SELECT set_config('idle_in_transaction_session_timeout', $1, true)", [String(this.idleMs + 5000)]);
            // Deferred constraints checked row by row here, so a refused row is found and named
            // rather than failing the whole commit.
            await q.query('SET CONSTRAINTS ALL IMMEDIATE');
            const stage = `pg_temp.nestgen_ingest_${createHash('sha256').update(`${def.name}\0${def.ingest.length}`).digest('hex').slice(0, 32)}`;
            const stageColumns = def.ingest.map((_, i) => `c${i} text`).join(', ');
            await q.query(
              `CREATE TEMP TABLE IF NOT EXISTS ${stage.slice('pg_temp.'.length)} (n integer, ${stageColumns}) ON COMMIT DELETE ROWS`,
            );
            const columns = [...def.ingest.map((c) => c.column), ...server];
            const exprs = [
              ...def.ingest.map((c, i) => {
                const v = typedParam(`s.c${i}`, c.sqlType, c.array);
                return c.defaultSql ? `COALESCE(${v}, ${c.defaultSql})` : v;
              }),
              ...serverValues,
            ];
            const returning = scope.capturing ? ' RETURNING to_jsonb(__row)::text AS "__change"' : '';
            const insertSql = (range: boolean) =>
              `INSERT INTO ${def.table} AS __row (${columns.join(', ')}) SELECT ${exprs.join(', ')} FROM ${stage} s` +
              (range ? ` WHERE s.n >= $${params.length + 1} AND s.n < $${params.length + 2}` : '') +
              returning;
            const copySql = `COPY ${stage} (n, ${def.ingest.map((_, i) => `c${i}`).join(', ')}) FROM STDIN`;
            const pgClient = client;

            let lines: string[] = [];
            let lineBytes = 0;
            /** Rows the database refused (found by bisection): past MAX_REFUSED the request stops. */
            let refusedByDb = 0;
            let where: { line: number; row: number }[] = [];
            let lo = Infinity;
            let hi = -Infinity;
            let failed = false;
            let rows = 0;

            const insert = async (range?: [number, number]): Promise<number> => {
              const r = await q.query(insertSql(range !== undefined), range ? [...params, ...range] : params);
              if (scope.capturing)
                await scope.record(
                  q,
                  (r.rows as { __change?: string }[]).map((x) => ({ new: x.__change })),
                );
              return r.rowCount ?? 0;
            };
            // Rows [a, b) of the staged chunk, inserted with a savepoint; the rows the database
            // refuses are found by halving (and rejected), the rest stored.
            const bisect = async (a: number, b: number): Promise<void> => {
              await q.query('SAVEPOINT nestgen_ingest');
              try {
                report.accepted += await insert([a, b]);
                await q.query('RELEASE SAVEPOINT nestgen_ingest');
              } catch (e) {
                await q.query('ROLLBACK TO SAVEPOINT nestgen_ingest');
                if (!isDataError(e)) throw e;
                if (b - a === 1) {
                  reject(where[a].line, where[a].row, dataReason(e));
                  if (!partial) failed = true;
                  if (++refusedByDb > MAX_REFUSED) {
                    throw new UnprocessableEntityException({
                      message: `the database refused more than ${MAX_REFUSED} rows; nothing was stored`,
                      details: { ...report, accepted: 0 },
                    });
                  }
                  return;
                }
                const mid = (a + b) >> 1;
                await bisect(a, mid);
                if (failed && !partial) return;
                await bisect(mid, b);
              }
            };
            const flush = async () => {
              if (lines.length === 0) return;
              if (!(failed && !partial)) {
                if (def.storage === 'partitioned' && settings.storage === 'partitioned') {
                  await this.registry.ensurePartitions(def, lo, hi);
                }
                await copyLines(pgClient, copySql, lines);
                await q.query('SAVEPOINT nestgen_ingest');
                try {
                  report.accepted += await insert();
                  await q.query('RELEASE SAVEPOINT nestgen_ingest');
                } catch (e) {
                  await q.query('ROLLBACK TO SAVEPOINT nestgen_ingest');
                  if (!isDataError(e)) throw e;
                  await bisect(0, lines.length);
                }
                await q.query(`TRUNCATE ${stage}`);
              }
              lines = [];
              lineBytes = 0;
              where = [];
              lo = Infinity;
              hi = -Infinity;
            };

            let headerChecked = false;
            for await (const rec of records(format, stream, { maxBytes: this.maxBytes, maxLineBytes: this.maxLineBytes })) {
              if (++rows > this.maxRows)
                throw new PayloadTooLargeException(`more than ${this.maxRows} rows in one request (TS_INGEST_MAX_ROWS)`);
              if (rec.error !== undefined) {
                reject(rec.line, rec.row, rec.error);
                if (!partial) failed = true;
                continue;
              }
              if (format === 'csv' && !headerChecked) {
                checker!.header(Object.keys(rec.value!));
                headerChecked = true;
              }
              const now = Date.now();
              const r = checker!.check(
                rec.value!,
                format === 'csv',
                now,
                {
                  oldest: settings.retentionMs === undefined ? undefined : now - settings.retentionMs,
                  newest: now + settings.acceptFutureMs,
                  retention: settings.retention,
                },
                userId,
              );
              if (typeof r === 'string') {
                reject(rec.line, rec.row, r);
                if (!partial) failed = true;
                continue;
              }
              if (failed && !partial) continue;
              const copyLine = `${lines.length}\t${r.values.map(copyText).join('\t')}\n`;
              lines.push(copyLine);
              lineBytes += copyLine.length;
              where.push({ line: rec.line, row: rec.row });
              if (r.time < lo) lo = r.time;
              if (r.time > hi) hi = r.time;
              if (lines.length >= CHUNK || lineBytes >= CHUNK_BYTES) await flush();
            }
            await flush();
            if (report.rejected > 0 && !partial) {
              throw new UnprocessableEntityException({
                message: `${report.rejected} row${report.rejected === 1 ? '' : 's'} rejected; nothing was stored (send ?partial=true to store the valid rows)`,
                details: { ...report, accepted: 0 },
              });
            }
          },
          'INSERT',
          client,
        ),
      );
    } catch (e) {
      stream.destroy();
      if (e instanceof BodyError) {
        if (e.status === 413) throw new PayloadTooLargeException(e.message);
        if (e.status === 408) throw new RequestTimeoutException(e.message);
        if (e.status === 415) throw new UnsupportedMediaTypeException(e.message);
        throw new BadRequestException(e.message);
      }
      if (e instanceof HttpException) throw e;
      const code = (e as { code?: string }).code;
      if (code === '54000' && /partition/.test((e as Error).message)) throw new UnprocessableEntityException((e as Error).message);
      throw e;
    }
    return report;
  }
}

/** Errors a row's data causes (bad value, broken check, missing reference, refused by row-level security). */
function isDataError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23') || code === '42501' || code === '54000');
}

function dataReason(e: unknown): string {
  const err = e as { code?: string; message?: string; constraint?: string; column?: string };
  switch (err.code) {
    case '23502':
      return `${err.column ?? 'a column'} must not be null`;
    case '23514':
      return /no partition of relation/.test(err.message ?? '')
        ? 'no partition takes its time'
        : `breaks the check ${err.constraint ?? 'rule'} of the table`;
    case '23503':
      return `refers to a row that does not exist (${err.constraint ?? 'foreign key'})`;
    case '23505':
      return `duplicates a unique key (${err.constraint ?? 'unique'})`;
    case '42501':
      return 'refused by the row-level security of the table';
    default:
      return `a value is not valid for its column (${(err.message ?? '').split('\n')[0].slice(0, 200)})`;
  }
}
