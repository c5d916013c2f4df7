// A 1,000,000-row CSV export streams in bounded memory (issue 21): the app's resident memory is
// sampled from /proc while the file is read, first at full speed, then by a slow reader (the
// database cursor must wait for it rather than the app buffer what it fetched). Run by
// `export_streams_a_million_rows_in_bounded_memory` (APP_PID: the app's process) and by
// scripts/bench-export.sh, which prints the same figures for BENCHMARKS.md.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BASE } from './lib.mjs';

const PID = process.env.APP_PID;
const ROWS = Number(process.env.EXPORT_ROWS ?? 1_000_000);

const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${PID}/status`, 'utf8'))[1]) / 1024;

/** Read the whole export (pausing `pauseMs` every `pauseEvery` bytes); returns lines, bytes and the app's peak memory meanwhile. */
async function read(path, { pauseEvery = Infinity, pauseMs = 0, stopAfter = Infinity } = {}) {
  const base = rssMb();
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, rssMb())), 25);
  const started = performance.now();
  const ac = new AbortController();
  const res = await fetch(BASE + path, { signal: ac.signal });
  assert.equal(res.status, 200);
  let bytes = 0;
  let lines = 0;
  let sincePause = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
      sincePause += value.length;
      for (let i = 0; i < value.length; i++) if (value[i] === 10) lines++;
      if (sincePause >= pauseEvery) {
        sincePause = 0;
        await new Promise((r) => setTimeout(r, pauseMs));
      }
      if (bytes >= stopAfter) {
        ac.abort();
        break;
      }
    }
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, rssMb());
  return { lines, bytes, seconds: (performance.now() - started) / 1000, base, peak };
}

test(`a ${ROWS.toLocaleString('en')}-row CSV export streams with bounded memory`, async () => {
  assert.ok(PID, 'APP_PID');
  const fast = await read('/orders/export?format=csv&sort=id');
  const mb = fast.bytes / 1024 / 1024;
  console.log(
    `full speed: ${fast.lines - 1} rows, ${mb.toFixed(1)} MB in ${fast.seconds.toFixed(1)} s ` +
      `(${Math.round((fast.lines - 1) / fast.seconds)} rows/s); app RSS ${fast.base.toFixed(0)} -> peak ${fast.peak.toFixed(0)} MB`,
  );
  assert.equal(fast.lines, ROWS + 1, 'a header and every row');
  // Held whole, the answer would take its rows as objects (several hundred bytes each: over
  // 300 MB for a million) plus the text (twice its bytes as a string). Streamed, the app's heap
  // only grows with the pace of allocation (the garbage of rows already sent), whatever the size.
  const grew = fast.peak - fast.base;
  assert.ok(grew < 128, `the app grew by ${grew.toFixed(0)} MB exporting ${mb.toFixed(0)} MB`);
  // A slow client: 40 ms pause every 256 KB, for the first 24 MB. The app must not read ahead.
  const slow = await read('/orders/export?format=ndjson&sort=id', { pauseEvery: 256 * 1024, pauseMs: 40, stopAfter: 24 * 1024 * 1024 });
  console.log(
    `slow reader: ${(slow.bytes / 1024 / 1024).toFixed(0)} MB in ${slow.seconds.toFixed(1)} s; app RSS ${slow.base.toFixed(0)} -> peak ${slow.peak.toFixed(0)} MB`,
  );
  assert.ok(slow.peak - slow.base < 64, `the app grew by ${(slow.peak - slow.base).toFixed(0)} MB behind a slow reader`);
});
