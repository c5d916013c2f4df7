import { Readable } from 'node:stream';
import type { filesSettings } from './files.settings.js';
import type { PendingObject, StorageDriver } from './storage.js';

/** The tag an object carries until its row exists; a bucket lifecycle rule can expire leftovers. */
const PENDING_TAG = 'nestgen-pending=1';

/**
 * S3 or any S3-compatible server (MinIO, Ceph, R2, moto): FILES_S3_BUCKET, FILES_S3_REGION,
 * FILES_S3_ENDPOINT and FILES_S3_FORCE_PATH_STYLE for servers that are not AWS; credentials from
 * the usual AWS_* variables or the instance's role. Uploads stream as multipart uploads under
 * FILES_S3_PREFIX with the tag `nestgen-pending=1`, removed when their row exists; an upload cut
 * short by a crash is removed through the object ledger (FileService.sweep).
 */
export class S3Storage implements StorageDriver {
  readonly provider = 's3';
  private readonly prefix: string;
  private client?: Promise<{ s3: import('@aws-sdk/client-s3').S3Client; sdk: typeof import('@aws-sdk/client-s3') }>;

  readonly bucket: string;

  constructor(private readonly settings: ReturnType<typeof filesSettings>['s3']) {
    this.bucket = settings.bucket;
    this.prefix = settings.prefix;
  }

  /** The SDK, loaded on first use (projects on local disk never load it). */
  private sdk() {
    this.client ??= import('@aws-sdk/client-s3').then((sdk) => ({
      sdk,
      s3: new sdk.S3Client({
        region: this.settings.region,
        ...(this.settings.endpoint ? { endpoint: this.settings.endpoint } : {}),
        forcePathStyle: this.settings.forcePathStyle,
      }),
    }));
    return this.client;
  }

  private objectKey(key: string): string {
    if (!/^[0-9a-f-]{36}$/.test(key)) throw new Error('not a storage key');
    return `${this.prefix}${key}`;
  }

  async write(body: Readable, key: string): Promise<PendingObject> {
    const { s3, sdk } = await this.sdk();
    const { Upload } = await import('@aws-sdk/lib-storage');
    const Key = this.objectKey(key);
    const upload = new Upload({
      client: s3,
      params: { Bucket: this.bucket, Key, Body: body, Tagging: PENDING_TAG, ContentType: 'application/octet-stream' },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
    });
    try {
      await upload.done();
    } catch (e) {
      await upload.abort().catch(() => undefined);
      await s3.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key })).catch(() => undefined);
      throw e;
    }
    return {
      key,
      open: () => Readable.from(this.stream(key)),
      commit: async () => {
        await s3.send(new sdk.DeleteObjectTaggingCommand({ Bucket: this.bucket, Key }));
      },
      discard: async () => {
        await s3.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key }));
      },
    };
  }

  /** The object's bytes, for a reader that needs a stream at once (the scanner). */
  private async *stream(key: string): AsyncGenerator<Buffer> {
    for await (const chunk of await this.open(key)) yield Buffer.from(chunk as Uint8Array);
  }

  async open(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const { s3, sdk } = await this.sdk();
    const r = await s3.send(
      new sdk.GetObjectCommand({
        Bucket: this.bucket,
        Key: this.objectKey(key),
        ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
      }),
    );
    return r.Body as Readable;
  }

  /** The object, and any unfinished multipart upload to its key (the app stopped while streaming it). */
  async remove(key: string): Promise<void> {
    const { s3, sdk } = await this.sdk();
    const Key = this.objectKey(key);
    await s3.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key }));
    const r = await s3.send(new sdk.ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: Key }));
    for (const u of r.Uploads ?? []) {
      if (u.Key === Key && u.UploadId)
        await s3.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: u.UploadId }));
    }
  }

  async presignPut(key: string, o: { size: number; seconds: number }): Promise<{ url: string; headers: Record<string, string> }> {
    const { s3, sdk } = await this.sdk();
    const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
    const command = new sdk.PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), ContentLength: o.size });
    // The size is signed in: the store refuses a PUT of any other length.
    const url = await getSignedUrl(s3, command, { expiresIn: o.seconds, signableHeaders: new Set(['content-length']) });
    return { url, headers: { 'content-length': String(o.size) } };
  }

  existing(key: string): PendingObject {
    return {
      key,
      open: () => Readable.from(this.stream(key)),
      commit: async () => undefined,
      discard: () => this.remove(key),
    };
  }

  async presign(key: string, o: { name: string; type: string; disposition: string; seconds: number }): Promise<string> {
    const { s3, sdk } = await this.sdk();
    const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
    const command = new sdk.GetObjectCommand({
      Bucket: this.bucket,
      Key: this.objectKey(key),
      ResponseContentDisposition: o.disposition,
      ResponseContentType: o.type,
    });
    return getSignedUrl(s3, command, { expiresIn: o.seconds });
  }

  /** Nothing beyond the ledger: every upload has an entry there before its first byte (see remove). */
  async sweep(): Promise<number> {
    return 0;
  }
}
