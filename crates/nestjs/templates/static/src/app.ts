import { ValidationPipe, VersioningType } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { ConnectionError, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { AppModule, LAZY_MODULES } from './app.module.js';
import type { AppConfig } from './core/config.js';
import { AllExceptionsFilter, errorBody } from './core/http/error.filter.js';
import { LazyModules, routeOf } from './core/http/lazy-modules.js';
import { etagOf, names } from './core/http/precondition.js';
import { RateLimiter } from './core/http/rate-limit.js';
import { type RequestContext, requestContext, runInContext } from './core/http/request-context.js';
import { AppLogger } from './core/logging/logger.js';
import { setupOpenApi } from './openapi.js';

/** The longest path segment (a key) the router takes; longer ones answer 400. */
const MAX_PARAM_LENGTH = 2000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What every answer carries: helmet's default headers, with the content security policy of the docs page. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy':
    "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';" +
    "img-src 'self' data: validator.swagger.io;object-src 'none';script-src 'self' 'unsafe-inline';script-src-attr 'none';" +
    "style-src 'self' 'unsafe-inline';upgrade-insecure-requests",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
});

/** Whether `value` nests objects or arrays more than `max` levels (checked without recursion). */
function tooDeep(value: object, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

/** Makes the Nest application on the adapter: `NestFactory` for `npm start`, a testing module's for the tests. */
export type AppBuilder = (adapter: FastifyAdapter, logger: AppLogger) => Promise<NestFastifyApplication> | NestFastifyApplication;

const fromAppModule: AppBuilder = (adapter, logger) => NestFactory.create<NestFastifyApplication>(AppModule, adapter, { logger });

/**
 * The app as `npm start` serves it: Fastify with the request context, access log, JSON depth
 * limit, conditional GETs, rate limit, security headers, validation and the error filter. The
 * generated tests make it the same way, from a testing module (`Test.createTestingModule`,
 * where providers can be replaced), and call it through `inject` instead of a port.
 */
export async function createApp(config: AppConfig, logger: AppLogger, build: AppBuilder = fromAppModule): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    // A client's x-request-id is kept (if sane) and echoed; otherwise one is made.
    genReqId: (req: IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.:-]{1,100}$/.test(given) ? given : randomUUID();
    },
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    // Keys are path segments: natural keys and encoded text can be longer than Fastify's 100.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // A URL the router cannot take (bad percent-encoding, a path segment too long) answers like
    // every other bad request — the app's error shape, request id, security headers — and the
    // URL is not echoed back (Fastify's own answer quotes it, query string included).
    // What Node's HTTP parser refuses before there is a request (headers or URL over 16 KB,
    // malformed HTTP, too slow to arrive) answers in the same shape and with the same headers.
    clientErrorHandler: (error: ConnectionError, socket: Socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, message] =
        error.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'the request line or headers are larger than the server takes (16 KB)']
          : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'the request took too long to arrive']
            : [400, 'the request is not valid HTTP'];
      const requestId = randomUUID();
      const payload = errorBody(status, message, requestId);
      const body = JSON.stringify(payload);
      const headers: Record<string, string> = {
        ...SECURITY_HEADERS,
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
        'x-request-id': requestId,
        connection: 'close',
      };
      const head = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      // Not into an answer already under way on this connection (a pipelined request after it).
      const busy = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
      if (socket.writable && !busy) socket.write(`HTTP/1.1 ${status} ${payload.error}\r\n${head}\r\n${body}`);
      socket.destroy();
    },
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const message =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? `a path segment is longer than ${MAX_PARAM_LENGTH} characters` : 'the URL is not valid';
      void reply
        .code(400)
        .headers(SECURITY_HEADERS)
        .header('x-request-id', String(request.id))
        .header('content-type', 'application/json; charset=utf-8')
        .send(JSON.stringify(errorBody(400, message, String(request.id))));
    },
  });
  const app = await build(adapter, logger);
  // One context per request (caller, organization, where from), read by the repositories. A
  // client's X-Correlation-Id (a UUID) ties requests together; otherwise one is made.
  const fastify = app.getHttpAdapter().getInstance();
  const contexts = new WeakMap<object, RequestContext>();
  fastify.addHook('onRequest', (request, reply, done) => {
    const given = request.headers['x-correlation-id'];
    const correlationId = typeof given === 'string' && UUID.test(given) ? given.toLowerCase() : randomUUID();
    const userAgent = request.headers['user-agent'];
    // Security headers on every answer (429s and early errors too), set from one object made
    // once (helmet's defaults; the API docs page needs its own scripts and styles).
    // @fastify/helmet rebuilt them per request, about a tenth of a simple GET's time.
    reply.headers(SECURITY_HEADERS);
    reply.header('x-request-id', request.id);
    reply.header('x-correlation-id', correlationId);
    const context: RequestContext = {
      ip: request.ip,
      userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 1000) : undefined,
      requestId: String(request.id),
      correlationId,
      headers: request.headers,
    };
    contexts.set(request, context);
    runInContext(context, done);
  });
  // The access log: one entry per answered request, with what its context learned (the caller,
  // and what features add, e.g. the tenant). A matched route is logged by its pattern
  // (`/files/public/:token`, never the token a share link carries in its path); a path no route
  // matched is client input that may carry anything (`;jsessionid=...`, an encoded query, a
  // host), so it is logged as `(no route)`.
  if (config.accessLog && logger.enabled('info')) {
    fastify.addHook('onResponse', (request, reply, done) => {
      const c = contexts.get(request);
      const path = routeOf(request) ?? '(no route)';
      const ms = Math.round(reply.elapsedTime * 10) / 10;
      logger.write('info', 'http', `${request.method} ${path} ${reply.statusCode} ${ms} ms`, { ip: request.ip }, c, {
        method: request.method,
        path,
        status: reply.statusCode,
        ms,
      });
      done();
    });
  }
  // JSON nested deeper than any table needs is refused before validation walks it (a body
  // thousands of levels deep would exhaust the stack). Streamed bodies are checked as they are read.
  // (Hooks here take a callback rather than being async: no promise per request.)
  fastify.addHook('preValidation', (request, reply, done) => {
    const body = request.body;
    if (body !== null && typeof body === 'object' && !(body instanceof Readable) && tooDeep(body, config.jsonMaxDepth)) {
      void reply
        .code(400)
        .header('content-type', 'application/json; charset=utf-8')
        .send(errorBody(400, `the JSON body is nested more than ${config.jsonMaxDepth} levels deep`, String(request.id)));
      return;
    }
    done();
  });
  // Conditional GETs (RFC 9110): a JSON answer carries the ETag of its bytes, and an
  // If-None-Match naming it gets 304 with no body; answers for a signed-in caller are private
  // and revalidated (core/http/precondition.ts; changes take If-Match).
  fastify.addHook('onSend', (request, reply, payload, done) => {
    const extra = requestContext()?.replyHeaders;
    if (extra) for (const name in extra) reply.header(name, extra[name]);
    if ((request.method !== 'GET' && request.method !== 'HEAD') || reply.statusCode !== 200) return done(null, payload);
    if (typeof payload !== 'string' || reply.getHeader('etag') !== undefined) return done(null, payload);
    if (!String(reply.getHeader('content-type') ?? '').startsWith('application/json')) return done(null, payload);
    const etag = etagOf(payload);
    reply.header('etag', etag);
    if (reply.getHeader('cache-control') === undefined) {
      reply.header('cache-control', request.headers.authorization ? 'private, no-cache' : 'no-cache');
    }
    const inm = request.headers['if-none-match'];
    if (names(typeof inm === 'string' ? inm : undefined, etag)) {
      reply.code(304);
      return done(null, '');
    }
    done(null, payload);
  });
  // Per client address, every route but the health check: 429 with Retry-After past the limit.
  const limiter = RateLimiter.shared();
  if (config.rateLimitPerMinute > 0) {
    fastify.addHook('onRequest', async (request, reply) => {
      if (request.url === '/health' || request.url.startsWith('/health?')) return;
      const r = await limiter.hit(`ip:${request.ip}`, config.rateLimitPerMinute, 60_000);
      void reply.header('ratelimit-limit', String(config.rateLimitPerMinute)).header('ratelimit-remaining', String(r.remaining));
      if (!r.allowed) {
        return reply
          .code(429)
          .header('retry-after', String(r.retryAfterSeconds))
          .header('content-type', 'application/json; charset=utf-8')
          .send(
            errorBody(429, `too many requests from this address (retry after ${r.retryAfterSeconds} s)`, String(request.id), {
              retryAfterSeconds: r.retryAfterSeconds,
            }),
          );
      }
    });
  }
  fastify.addHook('onClose', async () => limiter.close());
  fastify.addHook('onClose', async () => logger.flush());
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: false,
      validationError: { target: false, value: false },
    }),
  );
  app.useGlobalFilters(new AllExceptionsFilter());
  app.enableVersioning({ type: VersioningType.URI });
  if (config.corsOrigin) app.enableCors({ origin: config.corsOrigin });
  // Tables' modules app.module.ts leaves to their first request (none in most projects). The
  // OpenAPI document describes them all, so it waits for them; with LAZY_MODULES=false they are
  // all loaded before the app answers (after the settings above, which their routes take).
  const tables = new LazyModules(app, LAZY_MODULES, MAX_PARAM_LENGTH);
  if (tables.size > 0 && !config.lazyModules) fastify.addHook('onReady', () => tables.loadAll());
  if (config.swagger) {
    if (tables.size > 0 && config.lazyModules) {
      // By the route matched (the URL may be written in ways the router decodes: /%64ocs-json).
      fastify.addHook('onRequest', (request, _reply, done) => {
        const route = request.routeOptions.url ?? '';
        if (route === '/docs' || route.startsWith('/docs/') || route.startsWith('/docs-')) {
          tables.loadAll().then(() => done(), done);
        } else done();
      });
    }
    setupOpenApi(app);
  }
  return app;
}
