/**
 * Instants as the database reads them: a time without an offset is UTC (the app's sessions run
 * in UTC, whatever the host's time zone), and a date that does not exist (February 30) is
 * refused rather than rolled over.
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Milliseconds since 1970 of an ISO 8601 text, or undefined when it is not one (or not a real date). */
export function parseUtc(text: string): number | undefined {
  const m = ISO.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', sec = '00', zone] = m;
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (day.getUTCFullYear() !== Number(y) || day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return undefined;
  const body = text
    .trim()
    .slice(0, text.trim().length - (zone?.length ?? 0))
    .replace(' ', 'T');
  const z = !zone
    ? 'Z'
    : /^[+-]\d{2}$/.test(zone)
      ? `${zone}:00`
      : /^[+-]\d{4}$/.test(zone)
        ? `${zone.slice(0, 3)}:${zone.slice(3)}`
        : zone;
  const ms = Date.parse(`${body}${z}`);
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? ms : undefined;
}
