import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.js';
import { loadConfig } from './core/config.js';
import { AppLogger } from './core/logging/logger.js';

async function bootstrap(): Promise<void> {
  // Every setting of the app and its features, checked at once (core/config.ts).
  const config = loadConfig();
  const logger = new AppLogger(config);
  const app = await createApp(config, logger);
  // On SIGTERM/SIGINT Nest closes the app, then ends the process with process.exit, so the
  // logger's 'exit' handler writes what is still buffered (re-raising the signal would not).
  app.enableShutdownHooks([], { useProcessExit: true });
  await app.listen(config.port, config.host);
  new Logger('Bootstrap').log(`listening on ${await app.getUrl()} (OpenAPI at /docs)`);
}

bootstrap().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
