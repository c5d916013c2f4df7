import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** A value in COPY's text format: backslash, newline, carriage return and tab escaped; null is \N. */
export function copyText(v: string | null): string {
  if (v === null) return '\\N';
  if (!/[\\\n\r\t]/.test(v)) return v;
  return v.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}

/**
 * Run `COPY ... FROM STDIN` (`sql`) on `client` with `lines` (each a row in COPY's text format,
 * ending in a newline), honouring the stream's backpressure.
 */
export async function copyLines(client: pg.PoolClient, sql: string, lines: string[]): Promise<void> {
  const stream = client.query(copyFrom(sql));
  const finished = new Promise<void>((resolve, reject) => {
    stream.on('finish', () => resolve());
    stream.on('error', reject);
  });
  // Awaited below; a failure while writing must not count as unhandled meanwhile.
  finished.catch(() => undefined);
  // Batches of about 64 KiB per write.
  let batch = '';
  for (const l of lines) {
    batch += l;
    if (batch.length >= 65_536) {
      if (!stream.write(batch))
        await new Promise<void>((resolve, reject) => {
          stream.once('drain', resolve);
          stream.once('error', reject);
        });
      batch = '';
    }
  }
  stream.end(batch);
  await finished;
}
