import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What the current request knows about its caller; set per request, read by repositories.
 * Features add their own fields (declaration merging: `declare module '.../request-context.js'`).
 */
export interface RequestContext {
  userId?: string;
  email?: string;
  /** Where the request came from (logs, change records). */
  ip?: string;
  userAgent?: string;
  requestId?: string;
  correlationId?: string;
  /** The request's headers, for features that read their own (e.g. a reason for a change). */
  headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** Headers the answer gets (set by code below the controller, e.g. a read cache's `x-cache`). */
  replyHeaders?: Record<string, string>;
  /** Fields features add to every log entry of the request (core/logging). */
  log?: Record<string, string | undefined>;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Run `fn` with a fresh context (one per HTTP request). */
export function runWithContext<T>(fn: () => T, initial: RequestContext = {}): T {
  return storage.run({ ...initial }, fn);
}

/** Run `fn` in `context` itself (not a copy: who holds it sees what the request adds). */
export function runInContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function requestContext(): RequestContext | undefined {
  return storage.getStore();
}
