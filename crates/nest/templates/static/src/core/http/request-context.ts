import { AsyncLocalStorage } from 'node:async_hooks';

/** What the current request knows about its caller; set by the guard, read by repositories. */
export interface RequestContext {
  userId?: string;
  email?: string;
  /** The tenant (organization) the request acts in, checked against the caller's membership. */
  tenant?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Run `fn` with a fresh context (one per HTTP request). */
export function runWithContext<T>(fn: () => T): T {
  return storage.run({}, fn);
}

export function requestContext(): RequestContext | undefined {
  return storage.getStore();
}
