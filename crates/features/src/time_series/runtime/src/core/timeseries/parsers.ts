import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';

/** One record of an ingest body: where it starts, and its value or why it is not one. */
export interface Rec {
  /** 1-based line of the body where the record starts. */
  line: number;
  /** 1-based position among the records (the CSV header is not one). */
  row: number;
  /** JSON: the object; CSV: the fields by header (null for an unquoted empty field). */
  value?: Record<string, unknown>;
  error?: string;
}

export type Format = 'json' | 'ndjson' | 'csv';

/** A problem with the body as a whole (the request is refused; nothing is stored). */
export class BodyError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 408 | 413 | 415,
  ) {
    super(message);
  }
}

export interface BodyLimits {
  maxBytes: number;
  maxLineBytes: number;
}

/** Text chunks of a byte stream, counting bytes against the limit. */
async function* text(stream: Readable, limits: BodyLimits): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let bytes = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    bytes += b.length;
    if (bytes > limits.maxBytes) throw new BodyError(`the body is larger than ${limits.maxBytes} bytes (TS_INGEST_MAX_BYTES)`, 413);
    yield decoder.write(b);
  }
  const rest = decoder.end();
  if (rest) yield rest;
}

function parseObject(s: string, line: number, row: number): Rec {
  try {
    const v: unknown = JSON.parse(s);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return { line, row, error: 'not a JSON object' };
    return { line, row, value: v as Record<string, unknown> };
  } catch (e) {
    return { line, row, error: `not valid JSON (${(e as Error).message})` };
  }
}

function tooLong(line: number, limits: BodyLimits): BodyError {
  return new BodyError(`line ${line} is longer than ${limits.maxLineBytes} bytes (TS_INGEST_MAX_LINE_BYTES)`, 413);
}

/** Newline-delimited JSON: one object per line; blank lines are skipped. */
async function* ndjson(stream: Readable, limits: BodyLimits): AsyncGenerator<Rec> {
  let carry = '';
  let line = 0;
  let row = 0;
  for await (const chunk of text(stream, limits)) {
    const buf = carry + chunk;
    let at = 0;
    for (;;) {
      const nl = buf.indexOf('\n', at);
      if (nl < 0) break;
      line++;
      const s = buf.slice(at, nl);
      at = nl + 1;
      if (s.length > limits.maxLineBytes) throw tooLong(line, limits);
      if (s.trim() === '') continue;
      yield parseObject(s, line, ++row);
    }
    carry = buf.slice(at);
    if (carry.length > limits.maxLineBytes) throw tooLong(line + 1, limits);
  }
  if (carry.trim() !== '') {
    yield parseObject(carry, line + 1, row + 1);
  }
}

/**
 * A JSON array of objects, read element by element: each element's text is found by matching
 * brackets (strings and escapes respected) and parsed alone, so memory holds one element.
 */
async function* jsonArray(stream: Readable, limits: BodyLimits): AsyncGenerator<Rec> {
  // 0: before '[', 1: expecting an element or ']', 2: inside an element, 3: after an element, 4: after ']'
  let state = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let line = 1;
  let startLine = 1;
  let row = 0;
  let element = '';
  for await (const chunk of text(stream, limits)) {
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === 10) line++;
      if (state === 2) {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 92) escaped = true;
          else if (c === 34) inString = false;
          continue;
        }
        if (depth === 0) {
          // A scalar element (a number, a string, true, false, null) runs to a delimiter.
          if (c === 44 || c === 93 || c === 10 || c === 13 || c === 32 || c === 9) {
            yield { line: startLine, row: ++row, error: 'not a JSON object' };
            element = '';
            state = c === 44 ? 1 : c === 93 ? 4 : 3;
          } else if (c === 34) {
            inString = true;
          }
          continue;
        }
        if (c === 34) inString = true;
        else if (c === 123 || c === 91) depth++;
        else if (c === 125 || c === 93) {
          depth--;
          if (depth === 0) {
            element += chunk.slice(from, i + 1);
            yield parseObject(element, startLine, ++row);
            element = '';
            state = 3;
          }
        }
        continue;
      }
      if (c === 32 || c === 10 || c === 13 || c === 9) continue;
      if (state === 0) {
        if (c !== 91) throw new BodyError('the body is not a JSON array of rows (send [{...}, ...], or NDJSON or CSV)', 400);
        state = 1;
      } else if (state === 1 || state === 3) {
        if (c === 93) {
          state = 4;
        } else if (state === 3) {
          if (c !== 44) throw new BodyError(`line ${line}: expected , or ] after row ${row}`, 400);
          state = 1;
        } else {
          state = 2;
          startLine = line;
          from = i;
          depth = c === 123 || c === 91 ? 1 : 0;
          inString = c === 34;
          escaped = false;
        }
      } else if (state === 4) {
        throw new BodyError(`line ${line}: text after the closing ]`, 400);
      }
    }
    if (state === 2) {
      element += chunk.slice(from);
      if (element.length > limits.maxLineBytes)
        throw new BodyError(
          `row ${row + 1} (line ${startLine}) is longer than ${limits.maxLineBytes} bytes (TS_INGEST_MAX_LINE_BYTES)`,
          413,
        );
    }
  }
  if (state === 0) throw new BodyError('the body is empty: send a JSON array of rows', 400);
  if (state !== 4) throw new BodyError('the JSON array is not closed (the body ended early)', 400);
}

/**
 * CSV (RFC 4180): a header line names the columns (properties or column names); fields may be
 * quoted ("" for a quote inside, newlines allowed); an unquoted empty field is null, a quoted one
 * the empty string. Records end at LF or CRLF.
 */
async function* csv(stream: Readable, limits: BodyLimits): AsyncGenerator<Rec> {
  let header: string[] | undefined;
  let fields: (string | null)[] = [];
  let field = '';
  let quoted = false; // the current field started with a quote
  let inQuotes = false;
  let afterQuote = false; // just after a quote inside a quoted field: its end, or the first of ""
  let quotedLength = -1; // length of a quoted field's text when its closing quote came
  let line = 1;
  let startLine = 1;
  let row = 0;
  let recordLength = 0;
  const tooLongRecord = () =>
    new BodyError(`the record at line ${startLine} is longer than ${limits.maxLineBytes} bytes (TS_INGEST_MAX_LINE_BYTES)`, 413);
  const endField = () => {
    // A CR before the line's LF is not part of the field.
    if (field.endsWith('\r') && field.length > quotedLength) field = field.slice(0, -1);
    recordLength += field.length + 1;
    if (recordLength > limits.maxLineBytes) throw tooLongRecord();
    fields.push(quoted || field !== '' ? field : null);
    if (fields.length > 100_000) throw new BodyError(`the record at line ${startLine} has more than 100000 fields`, 400);
    field = '';
    quoted = false;
    afterQuote = false;
    quotedLength = -1;
  };
  const endRecord = (): Rec | undefined => {
    endField();
    const got = fields;
    fields = [];
    recordLength = 0;
    const at = startLine;
    startLine = line;
    if (got.length === 1 && got[0] === null) return undefined; // a blank line
    if (!header) {
      header = got.map((h) => (h ?? '').trim());
      if (header.some((h) => h === '')) throw new BodyError('the CSV header has an empty column name', 400);
      if (new Set(header).size !== header.length) throw new BodyError('the CSV header names a column twice', 400);
      return undefined;
    }
    row++;
    if (got.length !== header.length) return { line: at, row, error: `${got.length} fields where the header has ${header.length}` };
    // No prototype: a column named __proto__ is a column like any other.
    const value: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (let i = 0; i < header.length; i++) value[header[i]] = got[i];
    return { line: at, row, value };
  };
  for await (const chunk of text(stream, limits)) {
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (inQuotes) {
        if (c === 10) line++;
        if (c === 34) {
          field += chunk.slice(from, i);
          from = i + 1;
          inQuotes = false;
          afterQuote = true;
          quotedLength = field.length;
        }
        continue;
      }
      if (afterQuote) {
        afterQuote = false;
        if (c === 34) {
          // "" inside a quoted field: one quote.
          field += '"';
          from = i + 1;
          inQuotes = true;
          continue;
        }
      }
      if (c === 44) {
        field += chunk.slice(from, i);
        from = i + 1;
        endField();
      } else if (c === 10) {
        field += chunk.slice(from, i);
        from = i + 1;
        line++;
        const r = endRecord();
        if (r) yield r;
      } else if (c === 34 && !quoted && field === '' && from === i) {
        quoted = true;
        inQuotes = true;
        from = i + 1;
      }
    }
    field += chunk.slice(from);
    if (recordLength + field.length > limits.maxLineBytes) throw tooLongRecord();
  }
  if (inQuotes) throw new BodyError(`line ${startLine}: a quoted field is not closed`, 400);
  if (field !== '' || fields.length > 0 || quoted) {
    const r = endRecord();
    if (r) yield r;
  }
  if (!header) throw new BodyError('the CSV body has no header line', 400);
}

/** The records of an ingest body. */
export function records(format: Format, stream: Readable, limits: BodyLimits): AsyncGenerator<Rec> {
  switch (format) {
    case 'json':
      return jsonArray(stream, limits);
    case 'ndjson':
      return ndjson(stream, limits);
    case 'csv':
      return csv(stream, limits);
  }
}
