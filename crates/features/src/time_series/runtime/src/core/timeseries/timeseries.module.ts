import { Global, Inject, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { APP_CONFIG, type AppConfig } from '../config.js';
import { installStreamBodyParsers } from './body.js';
import { IngestService } from './ingest.js';
import { TimeSeriesMaintenance, TimeSeriesRegistry } from './maintenance.js';
import { TimeSeriesService } from './series.js';

/**
 * Time series: ingest, bucketed queries, maintenance (routes: each series' `*.series.controller.ts`).
 * Installs the body parsers that hand ingest routes their body as a stream.
 */
@Global()
@Module({
  providers: [TimeSeriesRegistry, IngestService, TimeSeriesService, TimeSeriesMaintenance],
  exports: [TimeSeriesRegistry, IngestService, TimeSeriesService, TimeSeriesMaintenance],
})
export class TimeSeriesModule implements OnModuleInit {
  constructor(
    private readonly adapter: HttpAdapterHost,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapter.httpAdapter.getInstance<FastifyInstance>();
    installStreamBodyParsers(fastify, this.config.bodyLimitBytes);
  }
}
