import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Bytes written but not yet part of the store: committed once their row exists, else discarded. */
export interface PendingObject {
  /** The key the object will have (server-made, never from the client). */
  readonly key: string;
  commit(): Promise<void>;
  discard(): Promise<void>;
  /** The bytes written so far (for the scanner). */
  open(): Readable;
}

/**
 * Where file bytes live. Keys are made by the server. `open` with a range reads bytes
 * [start, end] inclusive.
 */
export interface StorageDriver {
  readonly provider: string;
  readonly bucket: string | null;
  /** Streams `body` to a new object under `key` (server-made, a UUID), not yet part of the store. */
  write(body: Readable, key: string): Promise<PendingObject>;
  open(key: string, range?: { start: number; end: number }): Promise<Readable>;
  remove(key: string): Promise<void>;
  /** Removes writes older than `ms` that were never committed (a crash in the middle). */
  sweep(ms: number): Promise<number>;
  /** A time-limited URL the client PUTs `size` bytes to, under `key` (object stores only). */
  presignPut?(key: string, o: { size: number; seconds: number }): Promise<{ url: string; headers: Record<string, string> }>;
  /** An object written by someone else (a presigned PUT), as pending bytes to check and keep. */
  existing?(key: string): PendingObject;
  /** A time-limited URL the client downloads the bytes from directly (object stores only). */
  presign?(key: string, o: { name: string; type: string; disposition: string; seconds: number }): Promise<string>;
}

/**
 * Local disk: objects under FILES_DIR in two-level folders by key; uploads are written to
 * FILES_DIR/.incoming and renamed into place when their row is inserted (a rename within one file
 * system is atomic).
 */
export class LocalStorage implements StorageDriver {
  readonly provider = 'local';
  readonly bucket = null;
  private readonly incoming: string;

  constructor(private readonly root: string) {
    this.incoming = join(root, '.incoming');
  }

  private path(key: string): string {
    if (!/^[0-9a-f-]{36}$/.test(key)) throw new Error('not a storage key');
    return join(this.root, key.slice(0, 2), key);
  }

  async write(body: Readable, key: string): Promise<PendingObject> {
    await mkdir(this.incoming, { recursive: true });
    const temp = join(this.incoming, key);
    const final = this.path(key);
    if (!/^[0-9a-f-]{36}$/.test(key)) throw new Error('not a storage key');
    try {
      await pipeline(body, createWriteStream(temp, { flags: 'wx', mode: 0o600 }));
    } catch (e) {
      await rm(temp, { force: true });
      throw e;
    }
    let done = false;
    return {
      key,
      open: () => createReadStream(temp),
      commit: async () => {
        await mkdir(join(this.root, key.slice(0, 2)), { recursive: true });
        await rename(temp, final);
        done = true;
      },
      discard: async () => {
        await rm(done ? final : temp, { force: true });
      },
    };
  }

  async open(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const p = this.path(key);
    await stat(p);
    return createReadStream(p, range ? { start: range.start, end: range.end } : {});
  }

  async remove(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
    await rm(join(this.incoming, key), { force: true });
  }

  async sweep(ms: number): Promise<number> {
    let n = 0;
    const names = await readdir(this.incoming).catch(() => [] as string[]);
    for (const name of names) {
      const p = join(this.incoming, name);
      const s = await stat(p).catch(() => undefined);
      if (s && Date.now() - s.mtimeMs > ms) {
        await rm(p, { force: true });
        n++;
      }
    }
    return n;
  }
}
