import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorCodes } from 'fastify';
import type { Readable } from 'node:stream';
import { routeConfigOf } from '../http/lazy-modules.js';

/**
 * Route config (`@RouteConfig(STREAM_BODY)`) of routes that read their body as a stream (time
 * series ingest): the body parsers hand them the request stream, unread, whatever its size.
 */
export const STREAM_BODY = { nestgenStreamBody: true } as const;

/** Media types an ingest accepts besides JSON. */
export const STREAM_TYPES = ['application/x-ndjson', 'application/jsonl', 'text/csv'] as const;

function streams(request: FastifyRequest): boolean {
  return routeConfigOf(request)?.nestgenStreamBody === true;
}

/** The whole body, within `limit` bytes (Fastify's own checks: Content-Length, the limit as it arrives). */
function readBody(request: FastifyRequest, payload: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (declared > limit) {
      reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    const done = (err?: Error & { statusCode?: number }) => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
      if (err) {
        if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
        reject(err);
        return;
      }
      if (!Number.isNaN(declared) && received !== declared) {
        reject(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
        return;
      }
      resolve(Buffer.concat(chunks, received));
    };
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += b.length;
      if (received > limit) {
        payload.removeListener('data', onData);
        payload.removeListener('end', onEnd);
        payload.removeListener('error', onError);
        reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
        return;
      }
      chunks.push(b);
    };
    const onEnd = () => done();
    const onError = (e: Error) => done(e);
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  });
}

/**
 * Body parsers for streaming routes. JSON keeps Fastify's parser (its body limit, its defence
 * against prototype poisoning) for every other route; NDJSON and CSV are accepted by streaming
 * routes only (415 elsewhere). Called once, before the app listens.
 */
export function installStreamBodyParsers(fastify: FastifyInstance, bodyLimit: number): void {
  const { onProtoPoisoning, onConstructorPoisoning } = fastify.initialConfig as {
    onProtoPoisoning?: 'error' | 'remove' | 'ignore';
    onConstructorPoisoning?: 'error' | 'remove' | 'ignore';
  };
  const json = fastify.getDefaultJsonParser(onProtoPoisoning ?? 'error', onConstructorPoisoning ?? 'error');
  if (fastify.hasContentTypeParser('application/json')) fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', (request, payload, done) => {
    if (streams(request)) {
      done(null, payload);
      return;
    }
    readBody(request, payload, bodyLimit).then(
      (body) => json(request, body.toString('utf8'), done),
      (err: Error) => done(err, undefined),
    );
  });
  fastify.addContentTypeParser([...STREAM_TYPES], (request, payload, done) => {
    if (streams(request)) {
      done(null, payload);
      return;
    }
    payload.resume();
    done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), undefined);
  });
}
