import { Global, Logger, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { installUploadBodyParser } from './body.js';
import { filesSettings } from './files.settings.js';
import { FILE_SCANNER, FILE_STORAGE, FileService, fileScanner, fileStorage } from './upload.js';
import { ShareAccess } from './share-access.js';
import { ShareService } from './shares.js';
import type { StorageDriver } from './storage.js';
import { Inject } from '@nestjs/common';

/**
 * File storage: the upload body parser, the storage driver (FILES_DIR on local disk, or S3), the
 * scanner (FILES_SCAN) and the services the file controllers use. Every FILES_SWEEP_SECONDS, the
 * bytes no committed row keeps are removed once they are FILES_ORPHAN_SECONDS old: uploads cut
 * short by a crash (the object ledger, FILES_DIR/.incoming, unfinished S3 multipart uploads) and
 * rows deleted for good.
 */
@Global()
@Module({
  providers: [
    { provide: FILE_STORAGE, useFactory: fileStorage },
    { provide: FILE_SCANNER, useFactory: fileScanner },
    FileService,
    ShareService,
    ShareAccess,
  ],
  exports: [FileService, ShareService, FILE_STORAGE, FILE_SCANNER],
})
export class FilesModule implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Files');
  private timer?: NodeJS.Timeout;

  private readonly everyMs = filesSettings().sweepMs;
  private sweeping = false;

  constructor(
    private readonly adapter: HttpAdapterHost,
    @Inject(FILE_STORAGE) private readonly storage: StorageDriver,
    private readonly files: FileService,
  ) {}

  onModuleInit(): void {
    installUploadBodyParser(this.adapter.httpAdapter.getInstance<FastifyInstance>());
    this.timer = setInterval(() => void this.sweep(), this.everyMs);
    this.timer.unref();
  }

  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const objects = await this.files.sweep(this.files.orphanMs);
      const partial = await this.storage.sweep(this.files.orphanMs);
      if (objects + partial > 0) this.logger.log(`removed ${objects} objects no row keeps and ${partial} interrupted uploads`);
    } catch (e) {
      this.logger.error(`sweep failed: ${(e as Error).message}`);
    } finally {
      this.sweeping = false;
    }
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
