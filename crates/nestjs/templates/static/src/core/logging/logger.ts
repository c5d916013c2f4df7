import type { LoggerService } from '@nestjs/common';
import pino from 'pino';
import type { AppConfig } from '../config.js';
import { type RequestContext, requestContext } from '../http/request-context.js';

/** Levels, lowest first; LOG_LEVEL names the lowest one written. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
type Written = Exclude<LogLevel, 'silent'>;

type Fields = Record<string, unknown>;

/**
 * The app's one logger: pino's JSON lines (LOG_FORMAT=json) or one plain line per entry
 * (text; colours only on a terminal). Every entry written while a request is served carries
 * the request's id, the caller and what features add (`RequestContext.log`, e.g. the tenant).
 */
export class AppLogger implements LoggerService {
  private readonly min: number;
  private readonly json?: pino.Logger;
  private readonly colours: boolean;
  private readonly out: { write(line: string): unknown };
  private dropped = 0;
  private dirty = false;

  /**
   * Entries go to standard output without blocking the request that logs them: pino's
   * asynchronous destination gathers them and writes 8 KB at a time, or what there is every
   * 200 ms (a write per request cost a fifth of a simple GET's throughput), and writes what is
   * left, synchronously, when the process exits or the HTTP server closes.
   */
  constructor(config: Pick<AppConfig, 'logFormat' | 'logLevel'>) {
    this.min = LOG_LEVELS.indexOf(config.logLevel);
    this.colours = config.logFormat === 'text' && process.stdout.isTTY === true;
    // At most 16 MiB wait while standard output does not keep up; lines past that are dropped
    // and counted (a stalled log reader must not fill the app's memory).
    const destination = pino.destination({ dest: 1, sync: false, minLength: 8 * 1024, maxLength: 16 * 1024 * 1024 });
    destination.on('drop', () => this.dropped++);
    // Written when 8 KB have gathered, and at least every 200 ms when something was logged.
    setInterval(() => {
      if (this.dropped > 0) {
        const n = this.dropped;
        this.dropped = 0;
        this.write('warn', 'AppLogger', `${n} log entries dropped: standard output did not keep up`);
      }
      if (this.dirty) {
        this.dirty = false;
        destination.flush();
      }
    }, 200).unref();
    this.flush = () => {
      try {
        destination.flushSync();
      } catch {
        // Nothing buffered yet, or standard output is gone: nothing more can be written.
      }
    };
    process.on('exit', this.flush);
    this.out = destination;
    if (config.logFormat === 'json') {
      this.json = pino(
        {
          level: config.logLevel,
          base: { pid: process.pid },
          messageKey: 'message',
          timestamp: pino.stdTimeFunctions.isoTime,
          formatters: { level: (label) => ({ level: label }) },
        },
        destination,
      );
    }
  }

  /** Write what is buffered now (when the app shuts down on a signal, 'exit' never comes). */
  readonly flush: () => void;

  /** Whether entries of `level` are written. */
  enabled(level: Written): boolean {
    return LOG_LEVELS.indexOf(level) >= this.min;
  }

  /**
   * Write one entry: `context` names the part of the app, `fields` go beside the message, with
   * those of `request` (default: the request being served, if any). `structured` fields are for
   * JSON lines only: the message already says them to a reader of text lines.
   */
  write(
    level: Written,
    context: string | undefined,
    message: string,
    fields: Fields = {},
    request: RequestContext | undefined = requestContext(),
    structured: Fields = {},
  ): void {
    if (!this.enabled(level)) return;
    this.dirty = true;
    const all: Fields = request ? { requestId: request.requestId, userId: request.userId, ...request.log, ...fields } : { ...fields };
    if (context) all.context = context;
    if (this.json) {
      this.json[level]({ ...structured, ...all }, message);
      return;
    }
    const extra = Object.entries(all)
      .filter(([k, v]) => k !== 'context' && v !== undefined && v !== null && v !== '')
      .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
      .join(' ');
    const tag = level.toUpperCase().padEnd(5);
    const shown = this.colours ? `${COLOURS[level]}${tag}\x1b[0m` : tag;
    this.out.write(`${new Date().toISOString()} ${shown} ${context ? `[${context}] ` : ''}${message}${extra ? `  ${extra}` : ''}\n`);
  }

  // Nest's LoggerService: the context comes last among the optional parameters.
  log(message: unknown, ...rest: unknown[]): void {
    this.nest('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    // Nest passes (message, stack?, context?): a context is one line, a stack trace several.
    const last = rest[rest.length - 1];
    const context = typeof last === 'string' && !last.includes('\n') ? (rest.pop() as string) : undefined;
    const stack = (rest.find((r) => typeof r === 'string') as string | undefined) ?? (message instanceof Error ? message.stack : undefined);
    const text = message instanceof Error ? message.message : typeof message === 'string' ? message : JSON.stringify(message);
    this.write('error', context, text, stack ? { stack } : {});
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.nest('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.nest('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.nest('debug', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.nest('error', message, rest);
  }

  private nest(level: Written, message: unknown, rest: unknown[]): void {
    if (!this.enabled(level)) return;
    const context = typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    this.write(
      level,
      context,
      typeof message === 'string' ? message : message instanceof Error ? message.message : JSON.stringify(message),
    );
  }
}

const COLOURS: Record<Written, string> = { debug: '\x1b[90m', info: '\x1b[32m', warn: '\x1b[33m', error: '\x1b[31m' };
