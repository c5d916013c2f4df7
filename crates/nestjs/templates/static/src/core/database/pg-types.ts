import pg from 'pg';

/**
 * Values that JavaScript numbers or Dates would corrupt are returned as strings:
 * bigint and numeric keep every digit, timestamps keep microseconds (ISO 8601), dates and
 * times stay calendar values with no time zone shift, intervals stay PostgreSQL text.
 */
const OID = {
  int8: 20,
  numeric: 1700,
  date: 1082,
  time: 1083,
  timetz: 1266,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  money: 790,
} as const;

/** "2024-01-02 03:04:05.123456+00" → "2024-01-02T03:04:05.123456+00:00" */
export function isoTimestamp(text: string): string {
  // Character tests rather than a regular expression: this runs for every timestamp read.
  const space = text.indexOf(' ');
  const t = space < 0 ? text : `${text.slice(0, space)}T${text.slice(space + 1)}`;
  const n = t.length;
  const sign = t.charCodeAt(n - 3);
  return (sign === 43 || sign === 45) && isDigit(t.charCodeAt(n - 2)) && isDigit(t.charCodeAt(n - 1)) ? `${t}:00` : t;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** "2024-01-02 03:04:05.123456" (timestamp without time zone, kept in UTC) → "2024-01-02T03:04:05.123456Z" */
export function isoUtcTimestamp(text: string): string {
  return /^\d/.test(text) ? `${text.replace(' ', 'T')}Z` : text;
}

let installed = false;

export function installTypeParsers(): void {
  if (installed) return;
  installed = true;
  const raw = (v: string) => v;
  pg.types.setTypeParser(OID.int8, raw);
  pg.types.setTypeParser(OID.numeric, raw);
  pg.types.setTypeParser(OID.money, raw);
  pg.types.setTypeParser(OID.date, raw);
  pg.types.setTypeParser(OID.time, raw);
  pg.types.setTypeParser(OID.timetz, raw);
  pg.types.setTypeParser(OID.interval, raw);
  pg.types.setTypeParser(OID.timestamp, isoUtcTimestamp);
  pg.types.setTypeParser(OID.timestamptz, isoTimestamp);
  // Arrays of the same types (their OIDs are not in pg-types' list of built-ins).
  const set = (oid: number, f: (v: string) => unknown) => pg.types.setTypeParser(oid as Parameters<typeof pg.types.setTypeParser>[0], f);
  const arrayOf = (f: (v: string) => string) => (v: string) => pg.types.arrayParser(v, f) as string[];
  set(1016, arrayOf(raw)); // int8[]
  set(1231, arrayOf(raw)); // numeric[]
  set(1182, arrayOf(raw)); // date[]
  set(1115, arrayOf(isoUtcTimestamp)); // timestamp[]
  set(1185, arrayOf(isoTimestamp)); // timestamptz[]
}
