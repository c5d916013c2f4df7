import { Global, Logger, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { installUploadBodyParser } from './body.js';
import { FILE_SCANNER, FILE_STORAGE, FileService, fileScanner, fileStorage } from './upload.js';
import { ShareService } from './shares.js';
import type { StorageDriver } from './storage.js';
import { Inject } from '@nestjs/common';

/**
 * File storage: the upload body parser, the storage driver (FILES_DIR on local disk), the
 * scanner (FILES_SCAN) and the service the file controllers use. Uploads interrupted by a crash
 * leave bytes in FILES_DIR/.incoming: removed after an hour.
 */
@Global()
@Module({
  providers: [
    { provide: FILE_STORAGE, useFactory: fileStorage },
    { provide: FILE_SCANNER, useFactory: fileScanner },
    FileService,
    ShareService,
  ],
  exports: [FileService, ShareService, FILE_STORAGE, FILE_SCANNER],
})
export class FilesModule implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Files');
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly adapter: HttpAdapterHost,
    @Inject(FILE_STORAGE) private readonly storage: StorageDriver,
  ) {}

  onModuleInit(): void {
    installUploadBodyParser(this.adapter.httpAdapter.getInstance<FastifyInstance>());
    this.timer = setInterval(() => {
      this.storage.sweep(3_600_000).then(
        (n) => n > 0 && this.logger.log(`removed ${n} interrupted uploads`),
        (e: Error) => this.logger.error(`sweep failed: ${e.message}`),
      );
    }, 600_000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
