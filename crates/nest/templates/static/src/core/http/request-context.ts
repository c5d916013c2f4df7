import { AsyncLocalStorage } from 'node:async_hooks';

/** What the current request knows about its caller; set per request, read by repositories. */
export interface RequestContext {
  userId?: string;
  email?: string;
  /** The tenant (organization) the request acts in, checked against the caller's membership. */
  tenant?: string;
  /** The caller's role in that tenant (owner, admin, member, ...), when known. */
  tenantRole?: string | null;
  /** The caller holds the route's `<resource>:all` permission: the own-rows scope does not apply. */
  ownerBypass?: boolean;
  /** For the audit trail. */
  ip?: string;
  userAgent?: string;
  requestId?: string;
  correlationId?: string;
  /** Why the change is made (`X-Audit-Reason`). */
  reason?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Run `fn` with a fresh context (one per HTTP request). */
export function runWithContext<T>(fn: () => T, initial: RequestContext = {}): T {
  return storage.run({ ...initial }, fn);
}

export function requestContext(): RequestContext | undefined {
  return storage.getStore();
}
