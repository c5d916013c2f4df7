import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorCodes } from 'fastify';
import { routeConfigOf } from '../http/lazy-modules.js';

/**
 * Route config (`@RouteConfig(UPLOAD_BODY)`) of upload routes: a `multipart/form-data` body is
 * handed to them unread, as a stream (the upload reads it part by part, never whole).
 */
export const UPLOAD_BODY = { nestgenUploadBody: true } as const;

function uploads(request: FastifyRequest): boolean {
  return routeConfigOf(request)?.nestgenUploadBody === true;
}

/** Called once, before the app listens: multipart bodies reach upload routes only (415 elsewhere). */
export function installUploadBodyParser(fastify: FastifyInstance): void {
  if (fastify.hasContentTypeParser('multipart/form-data')) return;
  fastify.addContentTypeParser('multipart/form-data', (request, payload, done) => {
    if (uploads(request)) {
      done(null, payload);
      return;
    }
    payload.resume();
    done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), undefined);
  });
}
