import { HttpException } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import { hash } from 'node:crypto';

/**
 * Conditional requests (RFC 9110). The ETag of a JSON response is a hash of its bytes: GET of a
 * row or a list page answers 304 to an `If-None-Match` that names it. A change (PATCH, DELETE,
 * restore) sent with `If-Match` is made only if the row, read locked in the change's own
 * transaction, still has that ETag — the one `GET` of the row gave — and 412 otherwise, so two
 * clients editing the same row cannot overwrite each other unseen.
 */
export function etagOf(payload: string | Buffer): string {
  return `"${hash('sha256', payload, 'base64url').slice(0, 27)}"`;
}

/** Whether an `If-None-Match` / `If-Match` header names `etag` (weak comparison; `*` is any). */
export function names(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v.replace(/^W\//, '') === bare;
  });
}

interface Pending {
  table: string;
  ifMatch: string;
  used: boolean;
}

const pending = new AsyncLocalStorage<Pending>();

/**
 * Runs the change a route makes to a row of `spec`'s table under the request's If-Match (when
 * sent); 428 without one when the table requires it.
 */
export function withPrecondition<T>(
  spec: { table: string; requireIfMatch?: boolean },
  ifMatch: string | string[] | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const value = Array.isArray(ifMatch) ? ifMatch.join(',') : ifMatch;
  if (!value) {
    if (spec.requireIfMatch) {
      return Promise.reject(
        new HttpException(
          {
            statusCode: 428,
            error: 'Precondition Required',
            message: 'send If-Match with the ETag GET gave for this row (changes here must say which version they change)',
          },
          428,
        ),
      );
    }
    return fn();
  }
  return pending.run({ table: spec.table, ifMatch: value, used: false }, fn);
}

/** The If-Match waiting for the first change to a row of `table` in this request, if any. */
export function preconditionFor(table: string): string | undefined {
  const p = pending.getStore();
  return p && !p.used && p.table === table ? p.ifMatch : undefined;
}

/** Takes it: a request's If-Match is about the one row its route changes. */
export function takePrecondition(table: string): string | undefined {
  const p = pending.getStore();
  if (!p || p.used || p.table !== table) return undefined;
  p.used = true;
  return p.ifMatch;
}

export class PreconditionFailedException extends HttpException {
  constructor(etag: string) {
    super(
      {
        statusCode: 412,
        error: 'Precondition Failed',
        message: 'the row changed since you read it (If-Match does not name its current ETag); read it again',
        details: { etag },
      },
      412,
    );
  }
}
