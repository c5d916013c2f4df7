import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { deflateRaw } from 'node:zlib';
import { BadRequestException, Logger, StreamableFile } from '@nestjs/common';
import type pg from 'pg';
import { appSettings } from '../config.js';
import { tooManyRequests } from '../http/rate-limit.js';
import { CallerSlots, callerKey } from '../http/caller-slots.js';
import type { FieldSpec } from './resource.js';

/**
 * `GET /<table>/export?format=csv|ndjson|xlsx`: the rows a list with the same filters, sort and
 * `select=` returns, all of them (or `limit`), as a file. CSV and NDJSON stream through a
 * database cursor (FETCH a batch, write it, fetch the next when the client has taken it): memory
 * stays flat whatever the size, and every row comes from one snapshot. XLSX is built whole, so
 * it is capped (EXPORT_XLSX_MAX_ROWS; 400 above it, before anything is sent).
 */
export type ExportFormat = 'csv' | 'ndjson' | 'xlsx';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'ndjson', 'xlsx'];
export const EXPORT_PARAMS = ['format', 'bom'] as const;

const deflate = promisify(deflateRaw);
/**
 * Rows per FETCH: the first batch is small, the next ones sized from what the rows weighed so a
 * batch holds about BATCH_CHARS of text (1 to MAX_BATCH rows), whether rows are 50 bytes or
 * 5 MB each.
 */
const FIRST_BATCH = 10;
const MAX_BATCH = 1000;
const BATCH_CHARS = 1024 * 1024;
const nextBatch = (chars: number, rows: number) =>
  Math.max(1, Math.min(MAX_BATCH, Math.floor(BATCH_CHARS / Math.max(1, chars / Math.max(1, rows)))));
/** Excel's longest cell. */
const MAX_CELL = 32_767;
/** The most text an XLSX is built from (it is built whole). */
const MAX_XLSX_CHARS = 64 * 1024 * 1024;
const settings = appSettings();
const logger = new Logger('Export');
/** A client that takes nothing for this long loses its export (its connection goes back). */
const STALL_MS = settings.exportStallMs;
/** Each export holds a connection while it streams: never all of the pool. */
const MAX_RUNNING = Math.max(1, Math.min(settings.exportMaxConcurrent, settings.poolMax - 1));
let running = 0;
/** And a caller's share of them (EXPORT_MAX_PER_CALLER): one user's slow downloads never take every slot. */
const MAX_PER_CALLER = Math.min(settings.exportMaxPerCaller, MAX_RUNNING);
const perCaller = new CallerSlots();

/** `bom=true|false` (CSV only). */
export function exportBom(raw: unknown, format: ExportFormat): boolean {
  if (raw === undefined) return false;
  if (raw !== 'true' && raw !== 'false') throw new BadRequestException('bom: true or false');
  if (format !== 'csv') throw new BadRequestException('bom: only with format=csv');
  return raw === 'true';
}

export function exportFormat(raw: unknown): ExportFormat {
  if (raw === undefined) return 'csv';
  if (typeof raw !== 'string' || !(EXPORT_FORMATS as readonly string[]).includes(raw)) {
    throw new BadRequestException(`format: one of ${EXPORT_FORMATS.join(', ')}`);
  }
  return raw as ExportFormat;
}

/** A column of the file: a field, or an embed (its JSON). */
export interface ExportColumn {
  name: string;
  field?: FieldSpec;
}

export interface ExportJob {
  pool: pg.Pool;
  /** The SELECT of the rows, with its parameters. */
  sql: string;
  params: unknown[];
  /** `set_config` settings of the call's extensions (row-level security). */
  settings: Map<string, string>;
  format: ExportFormat;
  /** CSV starts with a UTF-8 byte order mark (`bom=true`: Excel then reads it as UTF-8). */
  bom?: boolean;
  columns: ExportColumn[];
  /** A row as the API answers it (the repository's toApi). */
  toApi(row: Record<string, unknown>): Record<string, unknown>;
  /** File name without extension. */
  name: string;
}

const TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** Open the cursor (errors are the request's: 400, 403, 503...), then hand back the file. */
export async function runExport(job: ExportJob): Promise<StreamableFile> {
  const caller = callerKey();
  const mine = perCaller.held(caller);
  if (mine >= MAX_PER_CALLER) {
    throw tooManyRequests(5, `you have ${mine} export${mine === 1 ? '' : 's'} running, the most one caller may; retry when one ends`);
  }
  if (running >= MAX_RUNNING) {
    throw tooManyRequests(5, `${MAX_RUNNING} exports are running; retry later`);
  }
  running++;
  perCaller.take(caller);
  const session = new Session(caller);
  try {
    const client = await session.open(job.pool);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // A backstop to the stall timer below: the database ends a transaction left idle.
    await client.query("SELECT set_config('idle_in_transaction_session_timeout', $1, true)", [String(2 * STALL_MS)]);
    if (job.settings.size) {
      const params = [...job.settings].flat();
      const sets = [...job.settings.keys()].map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`);
      await client.query(`SELECT ${sets.join(', ')}`, params);
    }
    await client.query(`DECLARE __export NO SCROLL CURSOR FOR ${job.sql}`, job.params);
    if (job.format === 'xlsx') {
      const rows = await sheetRows(client, job);
      await session.finish(true);
      const file = await xlsx(job.columns, rows);
      return new StreamableFile(file, { type: TYPES.xlsx, disposition: `attachment; filename="${job.name}.xlsx"`, length: file.length });
    }
    const first = (await client.query(`FETCH ${FIRST_BATCH} FROM __export`)).rows as Record<string, unknown>[];
    const stream = Readable.from(batches(session, job, first));
    // However the response ends (read to the end, the client gone, an error, a stalled
    // client), the transaction ends and the connection goes back to the pool, once.
    stream.once('close', () => {
      session.disarm();
      void session.finish(false);
    });
    // The status line is gone by then: the client sees the file cut short; the log says why.
    stream.once('error', (e: Error) => logger.warn(`export of ${job.name} (${job.format}) ended early: ${e.message}`));
    session.onStall = () => stream.destroy(new Error(`export: the client took nothing for ${STALL_MS / 1000} s`));
    return new StreamableFile(stream, { type: TYPES[job.format], disposition: `attachment; filename="${job.name}.${job.format}"` });
  } catch (err) {
    await session.finish(false);
    throw err;
  }
}

/** The export's connection and transaction: ended once (committed after the last row, rolled back otherwise). */
class Session {
  client?: pg.PoolClient;
  ended = false;
  onStall?: () => void;
  private timer?: NodeJS.Timeout;

  constructor(private readonly caller: string) {}

  /** Waiting for the client to take a chunk: it has STALL_MS. */
  arm(): void {
    this.disarm();
    this.timer = setTimeout(() => this.onStall?.(), STALL_MS);
  }

  disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  async open(pool: pg.Pool): Promise<pg.PoolClient> {
    this.client = await pool.connect();
    return this.client;
  }

  async finish(ok: boolean): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    running--;
    perCaller.release(this.caller);
    const client = this.client;
    if (!client) return;
    let failure: Error | undefined;
    // Queued behind a FETCH still running, so the connection is released only once it is idle.
    await client.query(ok ? 'COMMIT' : 'ROLLBACK').catch((e: unknown) => (failure = e instanceof Error ? e : new Error(String(e))));
    client.release(failure);
  }
}

/** The rows of an XLSX, as the API has them: 400 past EXPORT_XLSX_MAX_ROWS rows or MAX_XLSX_CHARS of values. */
async function sheetRows(client: pg.PoolClient, job: ExportJob): Promise<Record<string, unknown>[]> {
  const cap = settings.exportXlsxMaxRows;
  const out: Record<string, unknown>[] = [];
  let chars = 0;
  let batch = FIRST_BATCH;
  for (;;) {
    const rows = (await client.query(`FETCH ${batch} FROM __export`)).rows as Record<string, unknown>[];
    let size = 0;
    for (const r of rows) {
      const api = job.toApi(r);
      size += JSON.stringify(api).length;
      out.push(api);
    }
    chars += size;
    if (out.length > cap) {
      throw new BadRequestException(`format=xlsx: more than ${cap} rows (EXPORT_XLSX_MAX_ROWS); narrow the filters or use format=csv`);
    }
    if (chars > MAX_XLSX_CHARS) {
      throw new BadRequestException(
        'format=xlsx: the rows are too large for a spreadsheet built whole; narrow them (select=) or use format=csv',
      );
    }
    if (rows.length < batch) return out;
    batch = Math.min(nextBatch(size, rows.length), cap + 1 - out.length);
  }
}

/** The file's bytes, a batch at a time: pulled by the response as the client reads. */
async function* batches(session: Session, job: ExportJob, first: Record<string, unknown>[]): AsyncGenerator<Buffer> {
  const client = session.client!;
  let rows = first;
  let batch = FIRST_BATCH;
  let head = job.format === 'csv' ? `${job.bom ? '\ufeff' : ''}${csvLine(job.columns.map((c) => c.name))}` : '';
  while (rows.length > 0) {
    const api = rows.map(job.toApi);
    const text =
      job.format === 'csv'
        ? api.map((r) => csvLine(job.columns.map((c) => csvValue(c, r[c.name])))).join('')
        : api.map((r) => `${JSON.stringify(r)}\n`).join('');
    session.arm();
    yield Buffer.from(head + text);
    session.disarm();
    head = '';
    if (rows.length < batch || session.ended) break;
    batch = nextBatch(text.length, rows.length);
    rows = (await client.query(`FETCH ${batch} FROM __export`)).rows as Record<string, unknown>[];
    if (session.ended) return;
  }
  if (head) yield Buffer.from(head);
  await session.finish(true);
}

/** Text a spreadsheet would run as a formula starts with one of these (OWASP: CSV injection). */
const FORMULA = /^[=+\-@\t\r]/;

/** Kinds whose text is a number (a leading - is a sign) or base64 (a leading + is data), never a formula. */
const NOT_TEXT = new Set(['int', 'bigint', 'decimal', 'float', 'bytes']);

/** A value in a CSV cell: text as it is (formula-like text behind a '), others as the API writes them. */
function csvValue(c: ExportColumn, v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return !NOT_TEXT.has(c.field?.kind ?? '') && FORMULA.test(v) ? `'${v}` : v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** One RFC 4180 line. */
function csvLine(cells: string[]): string {
  return `${cells.map((s) => (/[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)).join(',')}\r\n`;
}

// --- XLSX: a minimal Office Open XML workbook (one sheet, inline strings), zipped. ---

// XML 1.0 has no place for most control characters: they are left out.
// eslint-disable-next-line no-control-regex
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

const xmlText = (s: string): string =>
  s
    .replace(XML_INVALID, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // A literal CR would be read back as a line feed (XML normalizes line ends).
    .replace(/\r/g, '&#13;');

/** A column letter: 0 → A, 26 → AA. */
function columnName(i: number): string {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

function cell(ref: string, c: ExportColumn | undefined, v: unknown): string {
  if (v === null || v === undefined) return '';
  // Numbers stay numbers where a spreadsheet's double holds them exactly; others are text.
  const kind = c?.field?.kind;
  if (typeof v === 'number' && Number.isFinite(v)) return `<c r="${ref}"><v>${v}</v></c>`;
  if (typeof v === 'boolean') return `<c r="${ref}" t="b"><v>${v ? 1 : 0}</v></c>`;
  // bigint and numeric text: a number while a double holds it exactly (15 significant digits; a
  // bigint up to 2^53), otherwise text (a spreadsheet would round it).
  if (typeof v === 'string' && (kind === 'bigint' || kind === 'decimal') && /^-?\d+(\.\d+)?$/.test(v)) {
    const digits = v.replace(/^-/, '').replace('.', '').replace(/^0+/, '').length;
    const exact = kind === 'bigint' ? Number.isSafeInteger(Number(v)) : digits <= 15;
    if (exact) return `<c r="${ref}"><v>${v}</v></c>`;
  }
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  if (text.length > MAX_CELL) {
    throw new BadRequestException(
      `format=xlsx: ${c?.name ?? 'a cell'} holds more than ${MAX_CELL} characters (Excel's limit); use format=csv`,
    );
  }
  return `<c r="${ref}" t="inlineStr"><is><t xml:space="preserve">${xmlText(text)}</t></is></c>`;
}

function sheet(columns: ExportColumn[], rows: Record<string, unknown>[]): string {
  let size = 0;
  const lines = [
    `<row r="1">${columns.map((c, i) => cell(`${columnName(i)}1`, undefined, c.name)).join('')}</row>`,
    ...rows.map((r, n) => {
      const line = `<row r="${n + 2}">${columns.map((c, i) => cell(`${columnName(i)}${n + 2}`, c, r[c.name])).join('')}</row>`;
      size += line.length;
      if (size > MAX_XLSX_CHARS)
        throw new BadRequestException(
          'format=xlsx: the rows are too large for a spreadsheet built whole; narrow them (select=) or use format=csv',
        );
      return line;
    }),
  ];
  return (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' +
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' +
    `<sheetData>${lines.join('')}</sheetData></worksheet>`
  );
}

export function xlsx(columns: ExportColumn[], rows: Record<string, unknown>[]): Promise<Buffer> {
  const rel = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
  const pkg = 'http://schemas.openxmlformats.org/package/2006';
  const head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
  return zip([
    [
      '[Content_Types].xml',
      `${head}<Types xmlns="${pkg}/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`,
    ],
    [
      '_rels/.rels',
      `${head}<Relationships xmlns="${pkg}/relationships"><Relationship Id="rId1" Type="${rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
    ],
    [
      'xl/workbook.xml',
      `${head}<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="${rel}"><sheets><sheet name="export" sheetId="1" r:id="rId1"/></sheets></workbook>`,
    ],
    [
      'xl/_rels/workbook.xml.rels',
      `${head}<Relationships xmlns="${pkg}/relationships"><Relationship Id="rId1" Type="${rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
    ],
    ['xl/worksheets/sheet1.xml', sheet(columns, rows)],
  ]);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A ZIP archive (deflated entries, no data descriptors); deflated off the event loop. */
async function zip(files: [string, string][]): Promise<Buffer> {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of files) {
    const data = Buffer.from(text, 'utf8');
    const packed = await deflate(data);
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(0x00210000, 10); // 00:00, 1980-01-01 (DOS time, date)
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(0x0800, 8);
    dir.writeUInt16LE(8, 10);
    dir.writeUInt32LE(0x00210000, 12);
    dir.writeUInt32LE(crc, 16);
    dir.writeUInt32LE(packed.length, 20);
    dir.writeUInt32LE(data.length, 24);
    dir.writeUInt16LE(nameBytes.length, 28);
    dir.writeUInt32LE(offset, 42);
    parts.push(local, nameBytes, packed);
    central.push(dir, nameBytes);
    offset += local.length + nameBytes.length + packed.length;
  }
  const size = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(size, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}
