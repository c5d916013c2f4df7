/** A recipient's preferences as stored: channel switches, categories, quiet hours. */
export interface Preferences {
  channels: Record<string, boolean | null>;
  categories: Record<string, Record<string, boolean>> | null;
  quietStart: string | null;
  quietEnd: string | null;
  timezone: string | null;
}

/** Security notifications reach the user whatever they chose. */
export const SECURITY = 'security';

/** Why the recipient does not want this now, or undefined: channel off, or category opted out. */
export function optedOut(p: Preferences | undefined, channel: string, category: string | null): string | undefined {
  if (!p || category === SECURITY) return undefined;
  if (p.channels[channel] === false) return `the recipient turned ${channel} notifications off`;
  const c = category ? p.categories?.[category] : undefined;
  const key = channel === 'in-app' ? ['in-app', 'in_app', 'inApp'] : [channel];
  if (c && key.some((k) => c[k] === false)) return `the recipient opted out of ${category} by ${channel}`;
  return undefined;
}

/** Minutes since midnight of `hh:mm[:ss]`. */
function minutes(t: string): number | undefined {
  const m = /^(\d{1,2}):(\d{2})/.exec(t);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

/** The wall-clock minute of the day in `timeZone` (UTC when unknown). */
function localMinute(now: Date, timeZone: string | null): { minute: number; second: number } {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-GB', {
      timeZone: timeZone || 'UTC',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    }).formatToParts(now);
  } catch {
    parts = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'UTC',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    }).formatToParts(now);
  }
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return { minute: get('hour') * 60 + get('minute'), second: get('second') };
}

/**
 * How long to wait before delivering, in ms, when `now` falls in the recipient's quiet hours (in
 * their time zone; a window may run past midnight); 0 otherwise, and for urgent or security
 * notifications.
 */
export function quietDelay(p: Preferences | undefined, now: Date, urgent: boolean, category: string | null): number {
  if (!p || urgent || category === SECURITY || !p.quietStart || !p.quietEnd) return 0;
  const start = minutes(p.quietStart);
  const end = minutes(p.quietEnd);
  if (start === undefined || end === undefined || start === end) return 0;
  const { minute, second } = localMinute(now, p.timezone);
  const quiet = start < end ? minute >= start && minute < end : minute >= start || minute < end;
  if (!quiet) return 0;
  const left = (end - minute + 1440) % 1440;
  return Math.max(1000, (left * 60 - second) * 1000);
}
