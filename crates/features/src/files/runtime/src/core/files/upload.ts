import {
  BadRequestException,
  ConflictException,
  HttpException,
  Inject,
  Injectable,
  InternalServerErrorException,
  Logger,
  NotImplementedException,
  RequestTimeoutException,
  NotFoundException,
  PayloadTooLargeException,
  UnprocessableEntityException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { Busboy } from '@fastify/busboy';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash, randomUUID } from 'node:crypto';
import { extname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { DatabaseService } from '../database/database.service.js';
import { CallerSlots, callerKey } from '../http/caller-slots.js';
import { requestContext } from '../http/request-context.js';
import type { CrudRepository, KeyValues } from '../crud/repository.js';
import type { Queryable } from '../database/database.service.js';
import { ident } from '../crud/resource.js';
import { contentDisposition, safeFileName } from './names.js';
import { type FileScanner, NoScanner, type ScanVerdict, SignatureScanner } from './scan.js';
import { allowedType, keptType, sniff } from './sniff.js';
import { filesSettings } from './files.settings.js';
import { S3Storage } from './s3.js';
import { LocalStorage, type PendingObject, type StorageDriver } from './storage.js';
import type { FileTableDef } from './types.js';

export const FILE_STORAGE = Symbol('FILE_STORAGE');
export const FILE_SCANNER = Symbol('FILE_SCANNER');

/** The storage driver from the environment: local disk under FILES_DIR, or S3 (FILES_S3_*). */
export function fileStorage(): StorageDriver {
  const s = filesSettings();
  return s.storage === 's3' ? new S3Storage(s.s3) : new LocalStorage(s.dir);
}

/** The scanner from the environment: FILES_SCAN=signatures (default: the EICAR test signature) or off. */
export function fileScanner(): FileScanner {
  return filesSettings().scan === 'off' ? new NoScanner() : new SignatureScanner();
}

/** Types an extension stands for, to tell a renamed file (a ZIP called .png). */
const BY_EXTENSION: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.bmp': 'image/bmp',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
  '.mp4': 'video/mp4',
  '.txt': 'text/plain',
  '.csv': 'text/csv',
  '.json': 'application/json',
  '.md': 'text/markdown',
};

/** The request's organization, set by tenancy's guard (a field the auth runtime adds to the context; absent without it). */
function currentTenant(): string | undefined {
  return (requestContext() as { tenant?: string } | undefined)?.tenant;
}

/** The key of a file row as the repository takes it (by property). */
function keyOf(def: FileTableDef, repo: CrudRepository, id: string): KeyValues {
  return { [repo.spec.fields.find((f) => f.column === def.id)?.property ?? def.id]: id };
}

/** Where some bytes are: storage key, size (text) and SHA-256. */
interface Bytes {
  k: string;
  s: string;
  h: string;
}

/** The current bytes of a file row, locked for the change that follows. */
async function currentBytes(q: Queryable, def: FileTableDef, id: string): Promise<Bytes | undefined> {
  const c = def.columns;
  const r = await q.query(
    `SELECT ${ident(c.key)} AS k, ${ident(c.size)}::text AS s, ${ident(c.checksum)} AS h FROM ${def.table} WHERE ${ident(def.id)} = $1 FOR UPDATE`,
    [id],
  );
  return r.rows[0] as Bytes | undefined;
}

/** The bytes of version `n` of a file. */
async function versionBytes(q: Queryable, v: NonNullable<FileTableDef['versions']>, id: string, n: string): Promise<Bytes | undefined> {
  const r = await q.query(
    `SELECT ${ident(v.key)} AS k, ${ident(v.size)}::text AS s, ${ident(v.checksum)} AS h FROM ${v.table} WHERE ${ident(v.file)} = $1 AND ${ident(v.number)} = $2`,
    [id, Number(n)],
  );
  return r.rows[0] as Bytes | undefined;
}

/** Where and how to PUT the bytes of an upload straight to the object store. */
export interface PresignedUpload {
  uploadId: string;
  method: 'PUT';
  url: string;
  /** Headers the PUT must carry as they are (signed in). */
  headers: Record<string, string>;
  expiresAt: string;
}

interface Received {
  object: PendingObject;
  size: number;
  sha256: string;
  head: Buffer;
  truncated: boolean;
  name: string;
  claimed: string;
}

/**
 * Uploads and downloads of file tables. An upload is one `multipart/form-data` request with one
 * part named `file` (and, before it, form fields the table lets clients set): the bytes stream to
 * storage while their SHA-256 and size are computed and their first bytes sniffed; nothing is held
 * whole in memory. Then, in order: size limit (413), allowed types and, with
 * FILES_TYPE_MISMATCH=refuse, a name whose extension says another type (415), the scanner (422),
 * the row (inserted as any create: the caller's scope, owner and tenant set by the server). A
 * failure at any step removes the bytes; an upload interrupted by a crash is swept later.
 */
@Injectable()
export class FileService {
  readonly maxBytes = filesSettings().maxBytes;
  private readonly allowed = filesSettings().allowedTypes;
  private readonly refuseMismatch = filesSettings().typeMismatch === 'refuse';
  /** Bytes one owner's files may take, soft-deleted ones included (0: no limit). */
  private readonly ownerQuota = filesSettings().ownerQuotaBytes;
  /** Bytes one tenant's files may take, whoever owns them (0: no limit; tenant-scoped file tables). */
  private readonly tenantQuota = filesSettings().tenantQuotaBytes;
  /** A client that sends nothing for this long loses its upload (408). */
  private readonly idleMs = filesSettings().idleMs;
  private readonly logger = new Logger('Files');
  /** Uploads one user (or, signed out, one address) may have running at once. */
  private readonly perUser = filesSettings().uploadsPerUser;
  private readonly running = new CallerSlots();
  /** How long a download or upload URL works. */
  private readonly urlSeconds = filesSettings().urlSeconds;
  /** How old bytes no committed row keeps must be before the sweep removes them. */
  readonly orphanMs = filesSettings().orphanMs;

  constructor(
    private readonly db: DatabaseService,
    @Inject(FILE_STORAGE) private readonly storage: StorageDriver,
    @Inject(FILE_SCANNER) private readonly scanner: FileScanner,
  ) {}

  private receive(file: Readable & { truncated?: boolean }, filename: string, claimed: string): Promise<Received> {
    const hash = createHash('sha256');
    let size = 0;
    const head: Buffer[] = [];
    let headLength = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        size += chunk.length;
        if (headLength < 4100) {
          const part = chunk.subarray(0, 4100 - headLength);
          head.push(part);
          headLength += part.length;
        }
        done(null, chunk);
      },
    });
    file.on('error', (e) => meter.destroy(e));
    // The object is in the ledger before its first byte is written: whatever stops the upload
    // before its row is committed, a crash included, leaves an entry the sweep acts on.
    const key = randomUUID();
    return this.db
      .query('INSERT INTO nestgen.file_objects (key) VALUES ($1)', [key])
      .then(() => this.storage.write(file.pipe(meter), key))
      .then((object) => ({
        object,
        size,
        sha256: hash.digest('hex'),
        head: Buffer.concat(head),
        truncated: file.truncated === true,
        name: filename,
        claimed,
      }));
  }

  /**
   * Takes the object out of the ledger in the transaction that commits its row (locked until
   * then, so the sweep cannot take it meanwhile). Already gone: the upload outlived
   * FILES_ORPHAN_SECONDS and the sweep removed its bytes.
   */
  private async claim(q: Queryable, key: string): Promise<void> {
    const r = await q.query('DELETE FROM nestgen.file_objects WHERE key = $1', [key]);
    if (r.rowCount !== 1) throw new InternalServerErrorException('the upload took longer than FILES_ORPHAN_SECONDS; send it again');
  }

  /** A refused upload's bytes and ledger entry, removed now (the sweep would later). */
  private async drop(object: PendingObject): Promise<void> {
    await object.discard().catch(() => undefined);
    await this.db.query('DELETE FROM nestgen.file_objects WHERE key = $1', [object.key]).catch(() => undefined);
  }

  /**
   * Removes the bytes of objects that have been in the ledger longer than `graceMs`: uploads cut
   * short (a crash between storing the bytes and committing the row) and rows deleted for good
   * (db/09-files.sql puts their keys back). Several instances share the work (SKIP LOCKED).
   */
  async sweep(graceMs: number): Promise<number> {
    let n = 0;
    for (;;) {
      const batch = await this.db.transaction(async (c) => {
        const r = await c.query(
          'SELECT key FROM nestgen.file_objects WHERE created_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT 100 FOR UPDATE SKIP LOCKED',
          [graceMs / 1000],
        );
        const keys = (r.rows as { key: string }[]).map((x) => x.key);
        for (const key of keys) {
          try {
            await this.storage.remove(key);
          } catch (e) {
            // Not a key this store made (a row written by hand): nothing of ours to remove.
            if ((e as Error).message !== 'not a storage key') throw e;
          }
        }
        if (keys.length) await c.query('DELETE FROM nestgen.file_objects WHERE key = ANY($1::text[])', [keys]);
        return keys.length;
      });
      n += batch;
      if (batch < 100) return n;
    }
  }

  /** Read the multipart body: the form fields and the one file, written to storage (not committed). */
  private parse(req: FastifyRequest): Promise<{ fields: Record<string, string>; received?: Received; problem?: HttpException }> {
    const body = req.body as Readable | undefined;
    if (!body || typeof (body as Readable).pipe !== 'function') throw new BadRequestException('send the file in the body');
    return new Promise((resolve, reject) => {
      const fields: Record<string, string> = Object.create(null) as Record<string, string>;
      let problem: HttpException | undefined;
      let receiving: Promise<Received> | undefined;
      let current: Readable | undefined;
      let bb: ReturnType<typeof Busboy>;
      try {
        bb = new Busboy({
          headers: req.headers as { 'content-type': string },
          limits: { files: 1, fileSize: this.maxBytes, fields: 32, fieldSize: 65_536, parts: 40, headerPairs: 100 },
        });
      } catch (e) {
        reject(new BadRequestException(`not a multipart body: ${(e as Error).message}`));
        return;
      }
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(
          () => fail(new RequestTimeoutException(`no data for ${this.idleMs / 1000} s (FILES_IDLE_SECONDS)`)),
          this.idleMs,
        );
        timer.unref();
      };
      const done = () => {
        settled = true;
        if (timer) clearTimeout(timer);
        // Whatever follows the closing boundary is not read.
        body.unpipe(bb);
        body.resume();
      };
      const fail = (e: Error) => {
        if (settled) return;
        done();
        current?.destroy(e);
        const settle = receiving
          ? receiving.then(
              (r) => r.object.discard(),
              () => undefined,
            )
          : Promise.resolve();
        void settle.then(() => reject(this.error(e)));
      };
      arm();
      // The whole body: the file, its form fields and the multipart framing; beyond, the request
      // is refused (or, once answered, cut).
      let total = 0;
      const cap = this.maxBytes + (1 << 20);
      body.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total <= cap) arm();
        else if (!settled) fail(new PayloadTooLargeException(`the body is larger than ${cap} bytes (FILES_MAX_BYTES and the form)`));
        else body.destroy();
      });
      bb.on('field', (name: string, value: string, _nameTruncated: boolean, valueTruncated: boolean) => {
        if (valueTruncated) problem ??= new PayloadTooLargeException(`form field ${name}: at most 65536 bytes`);
        else if (name in fields) problem ??= new BadRequestException(`form field ${name} sent twice`);
        else fields[name] = value;
      });
      bb.on('file', (field: string, file: Readable, filename: string, _encoding: string, mime: string) => {
        if (field !== 'file') {
          problem ??= new BadRequestException(`the file goes in a part named "file" (got "${field}")`);
          file.resume();
          return;
        }
        current = file;
        // Past FILES_MAX_BYTES: refused at once, the rest of the body unread.
        file.on('limit', () => fail(new PayloadTooLargeException(`the file is larger than ${this.maxBytes} bytes (FILES_MAX_BYTES)`)));
        receiving = this.receive(file, filename, mime);
        // Answered once the file is stored: what follows its part is not read.
        receiving.then(
          (received) => {
            if (settled) return void received.object.discard();
            done();
            resolve({ fields, received, problem });
          },
          (e: Error) => fail(e),
        );
      });
      bb.on('filesLimit', () => (problem ??= new BadRequestException('one file per request')));
      bb.on('fieldsLimit', () => (problem ??= new BadRequestException('at most 32 form fields')));
      bb.on('partsLimit', () => (problem ??= new BadRequestException('at most 40 parts')));
      bb.on('error', (e: Error) => fail(e));
      bb.on('finish', () => {
        if (settled || receiving) return;
        done();
        resolve({ fields, problem });
      });
      body.on('error', (e: Error) => fail(e));
      body.on('close', () => {
        if (!(body as Readable & { complete?: boolean }).complete && !body.readableEnded) fail(new Error('the client went away'));
      });
      body.pipe(bb);
    });
  }

  /** What a failed read of the body answers: the client's fault (400) or storage's (500, logged, no path). */
  private error(e: Error): HttpException {
    if (e instanceof HttpException) return e;
    const code = (e as { code?: string; syscall?: string }).code;
    if ((e as { syscall?: string }).syscall !== undefined || (code && /^E[A-Z]+$/.test(code) && code !== 'ECONNRESET')) {
      this.logger.error(`storing an upload failed: ${e.message}`);
      return new InternalServerErrorException('the file could not be stored');
    }
    return new BadRequestException('the upload did not complete (the body ended early or is not valid multipart)');
  }

  /**
   * Runs `fn` as one of the caller's uploads: past FILES_UPLOADS_PER_USER at once, 429 (each holds
   * a connection and up to FILES_MAX_BYTES of storage before the quota is counted).
   */
  private async slot<T>(req: FastifyRequest, fn: () => Promise<T>): Promise<T> {
    const who = callerKey(req.ip);
    const n = this.running.held(who);
    if (n >= this.perUser) {
      throw new HttpException(
        {
          statusCode: 429,
          error: 'Too Many Requests',
          message: `${n} uploads of yours are running (FILES_UPLOADS_PER_USER); wait for one to finish`,
        },
        429,
      );
    }
    this.running.take(who);
    try {
      return await fn();
    } finally {
      this.running.release(who);
    }
  }

  /** The upload read, stored (not committed) and checked: size, type, scan. The caller discards on failure. */
  private async checked(
    req: FastifyRequest,
  ): Promise<{ fields: Record<string, string>; received: Received; name: string; kept: string; verdict: ScanVerdict }> {
    const type = String(req.headers['content-type'] ?? '');
    if (!/^multipart\/form-data\s*;/i.test(type))
      throw new UnsupportedMediaTypeException('send multipart/form-data with one part named "file"');
    const { fields, received, problem } = await this.parse(req);
    try {
      if (problem) throw problem;
      if (!received) throw new BadRequestException('no part named "file"');
      return { fields, received, ...(await this.inspect(received)) };
    } catch (e) {
      if (received) await this.drop(received.object);
      throw e;
    }
  }

  /** Size, type and scan of stored (not committed) bytes: 413, 415, 422. */
  private async inspect(received: Received): Promise<{ name: string; kept: string; verdict: ScanVerdict }> {
    if (received.truncated || received.size > this.maxBytes)
      throw new PayloadTooLargeException(`the file is larger than ${this.maxBytes} bytes (FILES_MAX_BYTES)`);
    const name = safeFileName(received.name);
    const sniffed = sniff(received.head);
    const kept = keptType(sniffed, received.claimed);
    const byName = BY_EXTENSION[extname(name).toLowerCase()];
    if (this.refuseMismatch && byName && byName !== kept && !(kept.startsWith('text/') && byName.startsWith('text/'))) {
      throw new UnsupportedMediaTypeException(`${name}: the bytes are ${kept}, not ${byName} (FILES_TYPE_MISMATCH=refuse)`);
    }
    if (!allowedType(kept, this.allowed)) throw new UnsupportedMediaTypeException(`${kept} files are not accepted (FILES_ALLOWED_TYPES)`);
    const verdict = await this.scanner.scan(() => received.object.open(), { size: received.size, type: kept });
    if (!verdict.safe)
      throw new UnprocessableEntityException(`the file did not pass the scan (${verdict.findings.join(', ')}); nothing was stored`);
    return { name, kept, verdict };
  }

  /** Past FILES_QUOTA_BYTES with `adding` more bytes (its files, and their earlier versions): 413. */
  private async quota(q: Queryable, def: FileTableDef, owner: string | undefined, adding: number): Promise<void> {
    await this.tenantQuotaCheck(q, def, adding);
    const c = def.columns;
    if (this.ownerQuota === 0 || !c.owner || owner === undefined) return;
    // One upload per owner at a time past this point: the sum and the insert cannot race.
    await q.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [def.table, String(owner)]);
    const v = def.versions;
    const versions = v
      ? ` + (SELECT coalesce(sum(v.${ident(v.size)}), 0) FROM ${v.table} v JOIN ${def.table} f ON f.${ident(def.id)} = v.${ident(v.file)} WHERE f.${ident(c.owner)} = $1)`
      : '';
    const used = Number(
      (
        (
          await q.query(
            `SELECT (coalesce((SELECT sum(${ident(c.size)}) FROM ${def.table} WHERE ${ident(c.owner)} = $1), 0)${versions})::text AS n`,
            [owner],
          )
        ).rows[0] as { n: string }
      ).n,
    );
    if (used + adding > this.ownerQuota) {
      throw new PayloadTooLargeException(
        `your files would take ${used + adding} bytes; your quota is ${this.ownerQuota} (FILES_QUOTA_BYTES); nothing was stored`,
      );
    }
  }

  /**
   * FILES_TENANT_QUOTA_BYTES: every file of the caller's tenant counts, whoever owns it (the
   * own-rows scope is lifted for this one sum; the tenant's row-level security still applies).
   */
  private async tenantQuotaCheck(q: Queryable, def: FileTableDef, adding: number): Promise<void> {
    const c = def.columns;
    const tenant = currentTenant();
    if (this.tenantQuota === 0 || !c.tenant || !tenant) return;
    await q.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [`${def.table}/tenant`, String(tenant)]);
    const prev = ((await q.query("SELECT current_setting('nestgen.owner_bypass', true) AS v")).rows[0] as { v: string | null }).v ?? '';
    await q.query("SELECT set_config('nestgen.owner_bypass', 'on', true)");
    const v = def.versions;
    const versions = v
      ? ` + (SELECT coalesce(sum(v.${ident(v.size)}), 0) FROM ${v.table} v JOIN ${def.table} f ON f.${ident(def.id)} = v.${ident(v.file)} WHERE f.${ident(c.tenant)} = $1)`
      : '';
    let used: number;
    try {
      used = Number(
        (
          (
            await q.query(
              `SELECT (coalesce((SELECT sum(${ident(c.size)}) FROM ${def.table} WHERE ${ident(c.tenant)} = $1), 0)${versions})::text AS n`,
              [tenant],
            )
          ).rows[0] as { n: string }
        ).n,
      );
    } finally {
      await q.query("SELECT set_config('nestgen.owner_bypass', $1, true)", [prev]);
    }
    if (used + adding > this.tenantQuota) {
      throw new PayloadTooLargeException(
        `your organization's files would take ${used + adding} bytes; its quota is ${this.tenantQuota} (FILES_TENANT_QUOTA_BYTES); nothing was stored`,
      );
    }
  }

  async upload(def: FileTableDef, repo: CrudRepository, req: FastifyRequest, fieldsDto?: new () => object): Promise<unknown> {
    return this.slot(req, () => this.store(def, repo, req, fieldsDto));
  }

  private async store(def: FileTableDef, repo: CrudRepository, req: FastifyRequest, fieldsDto?: new () => object): Promise<unknown> {
    return this.persist(def, repo, await this.checked(req), fieldsDto);
  }

  /** Checked bytes become a row: inserted, the bytes made part of the store, then committed. */
  private async persist(
    def: FileTableDef,
    repo: CrudRepository,
    upload: { fields: Record<string, unknown>; received: Received; name: string; kept: string; verdict: ScanVerdict },
    fieldsDto?: new () => object,
  ): Promise<unknown> {
    const { fields, received, name, kept, verdict } = upload;
    const discard = () => this.drop(received.object);
    try {
      const dto = await this.fields(fields, fieldsDto);
      const c = def.columns;
      const property = (column: string | undefined) => repo.spec.fields.find((f) => f.column === column)?.property;
      const nameProperty = property(c.name);
      const server: Record<string, unknown> = {
        [c.key]: received.object.key,
        [c.size]: String(received.size),
        [c.type]: kept,
        [c.checksum]: received.sha256,
      };
      if (c.name && (nameProperty === undefined || dto[nameProperty] === undefined)) server[c.name] = name;
      else if (nameProperty && typeof dto[nameProperty] === 'string') dto[nameProperty] = safeFileName(dto[nameProperty] as string);
      if (c.storedName)
        server[c.storedName] = `${received.object.key}${extname(name)
          .slice(0, 16)
          .replace(/[^.A-Za-z0-9]/g, '')}`;
      if (c.provider) server[c.provider] = this.storage.provider;
      if (c.bucket) server[c.bucket] = this.storage.bucket;
      if (c.scannedAt) server[c.scannedAt] = new Date().toISOString();
      if (c.safe) server[c.safe] = true;
      if (c.scanResult) server[c.scanResult] = verdict;
      const owner = requestContext()?.userId;
      // The row first, then the bytes moved into place, then the commit: a row never points at
      // bytes that are not there (a crash in between leaves bytes no row names).
      return await this.db.transaction((client) =>
        repo.withScope(
          async (q) => {
            await this.claim(q, received.object.key);
            await this.quota(q, def, owner, received.size);
            const row = await repo.create(dto, q, server);
            await received.object.commit();
            return row;
          },
          'INSERT',
          client,
        ),
      );
    } catch (e) {
      await discard();
      throw e;
    }
  }

  /**
   * An upload straight to the object store (S3; 501 on local disk): the client PUTs the bytes to
   * the returned URL (its size signed in: `content-length` must match), then calls
   * `completeUpload`. Size and quota are checked now and again on completion, where the bytes
   * are read back — SHA-256, size, type from the bytes, scan — exactly as for an upload through
   * the app. An upload never completed is removed by the sweep.
   */
  async presignUpload(def: FileTableDef, repo: CrudRepository, body: { name?: unknown; sizeBytes?: unknown }): Promise<PresignedUpload> {
    if (!this.storage.presignPut)
      throw new NotImplementedException(`${this.storage.provider} storage takes uploads through POST .../upload only`);
    const size = Number(body.sizeBytes);
    if (!Number.isSafeInteger(size) || size < 0) throw new BadRequestException('sizeBytes: the file’s size in bytes');
    if (typeof body.name !== 'string' || body.name.length === 0 || body.name.length > 1024)
      throw new BadRequestException('name: the file’s name');
    if (size > this.maxBytes) throw new PayloadTooLargeException(`the file is larger than ${this.maxBytes} bytes (FILES_MAX_BYTES)`);
    const owner = requestContext()?.userId;
    const tenant = currentTenant();
    await this.db.transaction((client) => repo.withScope((q) => this.quota(q, def, owner, size), undefined, client));
    const key = randomUUID();
    const name = safeFileName(body.name);
    await this.db.query('INSERT INTO nestgen.file_objects (key, owner, upload) VALUES ($1, $2, $3)', [
      key,
      owner ?? null,
      JSON.stringify({ table: def.table, name, size, tenant: tenant ?? null }),
    ]);
    // The URL stops working well before the sweep may take the entry (a PUT after it would leave
    // bytes nothing tracks).
    const seconds = Math.max(1, Math.min(this.urlSeconds, Math.floor(this.orphanMs / 2000)));
    const { url, headers } = await this.storage.presignPut(key, { size, seconds });
    return { uploadId: key, method: 'PUT', url, headers, expiresAt: new Date(Date.now() + seconds * 1000).toISOString() };
  }

  /** The bytes PUT to a presigned URL become a file: read back, checked, then kept like any upload. */
  async completeUpload(
    def: FileTableDef,
    repo: CrudRepository,
    uploadId: string,
    fields: Record<string, unknown>,
    req: FastifyRequest,
    fieldsDto?: new () => object,
  ): Promise<unknown> {
    if (!this.storage.existing || !/^[0-9a-f-]{36}$/.test(uploadId)) throw new NotFoundException('no such upload');
    const owner = requestContext()?.userId;
    const tenant = currentTenant();
    const r = await this.db.query(
      'SELECT upload FROM nestgen.file_objects WHERE key = $1 AND owner IS NOT DISTINCT FROM $2 AND upload IS NOT NULL',
      [uploadId, owner ?? null],
    );
    const upload = (
      r.rows[0] as { upload?: { table: string; name: string; size: number; tenant: string | null; completing?: boolean } } | undefined
    )?.upload;
    if (!upload || upload.table !== def.table || (upload.tenant ?? null) !== (tenant ?? null))
      throw new NotFoundException('no such upload');
    // One completion at a time: a second one must not remove the bytes the first keeps.
    const mine = await this.db.query(
      `UPDATE nestgen.file_objects SET upload = upload || '{"completing": true}' WHERE key = $1 AND NOT coalesce((upload ->> 'completing')::boolean, false)`,
      [uploadId],
    );
    if (mine.rowCount !== 1) throw new ConflictException('this upload is being completed');
    return this.slot(req, async () => {
      const object = this.storage.existing!(uploadId);
      let received: Received;
      try {
        received = await this.readBack(object, upload.name);
      } catch (e) {
        await this.db
          .query(`UPDATE nestgen.file_objects SET upload = upload - 'completing' WHERE key = $1`, [uploadId])
          .catch(() => undefined);
        if (e instanceof HttpException) throw e;
        throw new ConflictException('the bytes are not in the store yet: PUT them to the upload URL first');
      }
      try {
        if (received.size !== upload.size) throw new BadRequestException(`${received.size} bytes arrived, ${upload.size} were announced`);
        const checked = await this.inspect(received);
        return await this.persist(def, repo, { fields, received, ...checked }, fieldsDto);
      } catch (e) {
        await this.drop(object);
        throw e;
      }
    });
  }

  /** Stored bytes read once: SHA-256, size and their first bytes; past FILES_MAX_BYTES, 413 at once. */
  private async readBack(object: PendingObject, name: string): Promise<Received> {
    const hash = createHash('sha256');
    let size = 0;
    const head: Buffer[] = [];
    let headLength = 0;
    for await (const chunk of object.open()) {
      const b = chunk as Buffer;
      hash.update(b);
      size += b.length;
      if (size > this.maxBytes) {
        await this.drop(object);
        throw new PayloadTooLargeException(`the file is larger than ${this.maxBytes} bytes (FILES_MAX_BYTES)`);
      }
      if (headLength < 4100) {
        const part = b.subarray(0, 4100 - headLength);
        head.push(part);
        headLength += part.length;
      }
    }
    return {
      object,
      size,
      sha256: hash.digest('hex'),
      head: Buffer.concat(head),
      truncated: false,
      name,
      claimed: 'application/octet-stream',
    };
  }

  private async fields(fields: Record<string, unknown>, dtoClass?: new () => object): Promise<Record<string, unknown>> {
    const names = Object.keys(fields);
    if (names.length === 0) return {};
    if (!dtoClass) throw new BadRequestException(`no form fields are accepted with the file (got ${names.join(', ')})`);
    const dto = plainToInstance(dtoClass, { ...fields }, { enableImplicitConversion: true });
    const errors = await validate(dto, { whitelist: true, forbidNonWhitelisted: true });
    if (errors.length) {
      throw new BadRequestException(errors.flatMap((e) => Object.values(e.constraints ?? {})).join('; '));
    }
    return dto as Record<string, unknown>;
  }

  /** Where a file's bytes are and what they are, read after the caller's access was checked. */
  private async described(
    def: FileTableDef,
    repo: CrudRepository,
    id: string,
  ): Promise<{ key: string; size: number; type: string; checksum: string; name: string }> {
    const c = def.columns;
    const cols = [c.key, c.size, c.type, c.checksum, c.name].map((x) => (x ? ident(x) : 'NULL'));
    const row = await repo.withScope(async (q) => {
      const r = await q.query(`SELECT ${cols.map((x, i) => `${x} AS "c${i}"`).join(', ')} FROM ${def.table} WHERE ${ident(def.id)} = $1`, [
        id,
      ]);
      return r.rows[0] as Record<string, unknown> | undefined;
    });
    if (!row) throw new NotFoundException('file not found');
    return {
      key: String(row.c0),
      size: Number(row.c1),
      type: String(row.c2 ?? ''),
      checksum: String(row.c3),
      name: (row.c4 as string | null) ?? 'file',
    };
  }

  /**
   * A time-limited URL to download a file the caller may read straight from the object store
   * (FILES_URL_SECONDS; 501 on local disk). Served as an attachment under the sanitised name; the
   * store, not the app, serves the bytes (not counted as a download).
   */
  async url(def: FileTableDef, repo: CrudRepository, id: string): Promise<{ url: string; expiresAt: string }> {
    await repo.get(keyOf(def, repo, id));
    if (!this.storage.presign)
      throw new NotImplementedException(`${this.storage.provider} storage has no download URLs; use GET .../content`);
    const row = await this.described(def, repo, id);
    const name = safeFileName(row.name);
    const url = await this.storage.presign(row.key, {
      name,
      type: row.type || 'application/octet-stream',
      disposition: contentDisposition(name),
      seconds: this.urlSeconds,
    });
    return { url, expiresAt: new Date(Date.now() + this.urlSeconds * 1000).toISOString() };
  }

  /**
   * The bytes of a file the caller may read (404 otherwise), with `Range` (one range; 416 when
   * it cannot be served), `ETag` (the SHA-256) and `If-None-Match` (304); always as an attachment
   * under its sanitised name, never sniffed or run by the browser. Counts the download.
   */
  async download(def: FileTableDef, repo: CrudRepository, id: string, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    await repo.get(keyOf(def, repo, id));
    const c = def.columns;
    const row = await this.described(def, repo, id);
    await this.serveBytes(req, reply, row, async () => {
      if (!c.downloads && !c.downloadedAt) return;
      const sets = [
        c.downloads ? `${ident(c.downloads)} = coalesce(${ident(c.downloads)}, 0) + 1` : '',
        c.downloadedAt ? `${ident(c.downloadedAt)} = now()` : '',
      ]
        .filter(Boolean)
        .join(', ');
      await repo.withScope((q) => q.query(`UPDATE ${def.table} SET ${sets} WHERE ${ident(def.id)} = $1`, [id]), 'UPDATE');
    });
  }

  /** 404 unless the caller may see file `id`. */
  async visible(def: FileTableDef, repo: CrudRepository, id: string): Promise<void> {
    await repo.get(keyOf(def, repo, id));
  }

  /**
   * Bytes in storage, as a download: one range, ETag, 304, a safe disposition; `counted` once per
   * download, after the bytes could be opened and before they are sent (when it throws, nothing
   * is sent). `ranges: false` serves the whole file whatever the client asks.
   */
  async serveBytes(
    req: FastifyRequest,
    reply: FastifyReply,
    o: { key: string; size: number; type: string; checksum: string; name: string },
    counted?: () => Promise<void>,
    opts: { ranges?: boolean; cache?: string } = {},
  ): Promise<void> {
    const { key, size, type, checksum, name } = o;
    const etag = `"${checksum}"`;
    reply.header('etag', etag);
    if (opts.ranges !== false) reply.header('accept-ranges', 'bytes');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('content-security-policy', "default-src 'none'; sandbox");
    reply.header('content-disposition', contentDisposition(safeFileName(name)));
    reply.header('cache-control', opts.cache ?? 'private, no-cache');
    const inm = req.headers['if-none-match'];
    if (typeof inm === 'string' && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
      reply.code(304).send();
      return;
    }
    let range: { start: number; end: number } | undefined;
    const header = req.headers.range;
    const ifRange = req.headers['if-range'];
    // One byte range (RFC 9110): others, and what cannot be read, are ignored (the whole file).
    const m =
      opts.ranges !== false && typeof header === 'string' && (ifRange === undefined || ifRange === etag)
        ? /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim())
        : null;
    if (m && (m[1] !== '' || m[2] !== '')) {
      let start = m[1] !== '' ? Number(m[1]) : Math.max(0, size - Number(m[2]));
      let end = m[1] !== '' && m[2] !== '' ? Number(m[2]) : size - 1;
      if (m[1] === '' && Number(m[2]) === 0) start = size;
      if (start <= end || m[1] === '') {
        if (start >= size) {
          reply.code(416).header('content-range', `bytes */${size}`).send();
          return;
        }
        end = Math.min(end, size - 1);
        range = { start, end };
      }
    }
    let stream: Readable;
    try {
      stream = size === 0 ? Readable.from([]) : await this.storage.open(key, range);
    } catch {
      throw new NotFoundException('the file’s bytes are missing from storage');
    }
    // A download is counted once: not for HEAD, nor for the ranges after the first.
    if (counted && req.method !== 'HEAD' && (!range || range.start === 0)) {
      try {
        await counted();
      } catch (e) {
        stream.destroy();
        // Refused: nothing about the bytes goes out with the refusal.
        for (const h of ['etag', 'content-disposition', 'accept-ranges']) reply.removeHeader(h);
        throw e;
      }
    }
    reply.header('content-type', type || 'application/octet-stream');
    if (range) {
      reply
        .code(206)
        .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
        .header('content-length', String(range.end - range.start + 1));
    } else {
      reply.code(200).header('content-length', String(size));
    }
    reply.send(stream);
  }

  private versionsOf(def: FileTableDef) {
    if (!def.versions) throw new NotFoundException('this table keeps no versions');
    return def.versions;
  }

  /**
   * New bytes for an existing file: its current bytes become its next version (the versions
   * table), then the row takes the new ones. Checked like an upload; one transaction.
   */
  async replace(def: FileTableDef, repo: CrudRepository, id: string, req: FastifyRequest): Promise<unknown> {
    const v = this.versionsOf(def);
    const key = keyOf(def, repo, id);
    await repo.get(key);
    const { received, kept, verdict } = await this.slot(req, () => this.checked(req));
    try {
      const c = def.columns;
      const owner = requestContext()?.userId;
      await this.db.transaction((client) =>
        repo.withScope(
          async (q) => {
            await this.claim(q, received.object.key);
            await this.quota(q, def, owner, received.size);
            const cur = await currentBytes(q, def, id);
            if (!cur) throw new NotFoundException('file not found');
            await this.keep(q, v, id, cur, owner);
            const sets = [`${ident(c.key)} = $2`, `${ident(c.size)} = $3::bigint`, `${ident(c.type)} = $4`, `${ident(c.checksum)} = $5`];
            const params: unknown[] = [id, received.object.key, String(received.size), kept, received.sha256];
            if (c.scannedAt) sets.push(`${ident(c.scannedAt)} = now()`);
            if (c.scanResult) {
              params.push(JSON.stringify(verdict));
              sets.push(`${ident(c.scanResult)} = $${params.length}::jsonb`);
            }
            if (repo.spec.updatedAtColumn) sets.push(`${ident(repo.spec.updatedAtColumn)} = now()`);
            await q.query(`UPDATE ${def.table} SET ${sets.join(', ')} WHERE ${ident(def.id)} = $1`, params);
            await received.object.commit();
          },
          'UPDATE',
          client,
        ),
      );
    } catch (e) {
      await this.drop(received.object);
      throw e;
    }
    return repo.get(key);
  }

  /** The row's current bytes as its next version. */
  private async keep(q: Queryable, v: NonNullable<FileTableDef['versions']>, id: string, cur: Bytes, owner?: string): Promise<number> {
    await q.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [v.table, id]);
    const next = Number(
      (
        (await q.query(`SELECT coalesce(max(${ident(v.number)}), 0) + 1 AS n FROM ${v.table} WHERE ${ident(v.file)} = $1`, [id]))
          .rows[0] as { n: number }
      ).n,
    );
    const cols = [v.file, v.number, v.key, v.size, v.checksum].map(ident);
    const params: unknown[] = [id, next, cur.k, cur.s, cur.h];
    if (v.createdBy && owner !== undefined) {
      cols.push(ident(v.createdBy));
      params.push(owner);
    }
    await q.query(
      `INSERT INTO ${v.table} (${cols.join(', ')}) VALUES (${params.map((_, i) => (i === 3 ? `$${i + 1}::bigint` : `$${i + 1}`)).join(', ')})`,
      params,
    );
    return next;
  }

  /** The earlier versions of a file the caller may read, newest first. */
  async versions(def: FileTableDef, repo: CrudRepository, id: string): Promise<{ data: Record<string, unknown>[] }> {
    const v = this.versionsOf(def);
    await repo.get(keyOf(def, repo, id));
    const rows = await repo.withScope(
      async (q) =>
        (
          await q.query(
            `SELECT ${ident(v.number)} AS "version", ${ident(v.size)}::text AS "sizeBytes", ${ident(v.checksum)} AS "checksum"${v.createdBy ? `, ${ident(v.createdBy)} AS "createdBy"` : ''} FROM ${v.table} WHERE ${ident(v.file)} = $1 ORDER BY ${ident(v.number)} DESC LIMIT 1000`,
            [id],
          )
        ).rows as Record<string, unknown>[],
    );
    return { data: rows };
  }

  /** One earlier version's bytes (as a download; not counted). */
  async versionContent(
    def: FileTableDef,
    repo: CrudRepository,
    id: string,
    n: string,
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const v = this.versionsOf(def);
    if (!/^\d{1,9}$/.test(n)) throw new BadRequestException('version: a number');
    const file = (await repo.get(keyOf(def, repo, id))) as Record<string, unknown>;
    const row = await repo.withScope((q) => versionBytes(q, v, id, n));
    if (!row) throw new NotFoundException('no such version');
    const nameProperty = repo.spec.fields.find((f) => f.column === def.columns.name)?.property;
    const name = nameProperty && typeof file[nameProperty] === 'string' ? (file[nameProperty] as string) : 'file';
    await this.serveBytes(req, reply, { key: row.k, size: Number(row.s), type: 'application/octet-stream', checksum: row.h, name });
  }

  /** An earlier version becomes the current bytes again; the current ones become the next version. */
  async restore(def: FileTableDef, repo: CrudRepository, id: string, n: string): Promise<unknown> {
    const v = this.versionsOf(def);
    if (!/^\d{1,9}$/.test(n)) throw new BadRequestException('version: a number');
    const key = keyOf(def, repo, id);
    await repo.get(key);
    const c = def.columns;
    const owner = requestContext()?.userId;
    await this.db.transaction((client) =>
      repo.withScope(
        async (q) => {
          const cur = await currentBytes(q, def, id);
          const old = await versionBytes(q, v, id, n);
          if (!cur || !old) throw new NotFoundException('no such version');
          await this.keep(q, v, id, cur, owner);
          const chunks: Buffer[] = [];
          if (Number(old.s) > 0)
            for await (const b of await this.storage.open(old.k, { start: 0, end: Math.min(Number(old.s), 4100) - 1 }))
              chunks.push(b as Buffer);
          const type = sniff(Buffer.concat(chunks));
          const sets = [`${ident(c.key)} = $2`, `${ident(c.size)} = $3::bigint`, `${ident(c.type)} = $4`, `${ident(c.checksum)} = $5`];
          if (repo.spec.updatedAtColumn) sets.push(`${ident(repo.spec.updatedAtColumn)} = now()`);
          await q.query(`UPDATE ${def.table} SET ${sets.join(', ')} WHERE ${ident(def.id)} = $1`, [id, old.k, old.s, type, old.h]);
        },
        'UPDATE',
        client,
      ),
    );
    return repo.get(key);
  }
}
