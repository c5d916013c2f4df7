import { requestContext } from './request-context.js';

/** Who asks: the signed-in user, else the client's address. */
export function callerKey(ip?: string): string {
  const ctx = requestContext();
  return ctx?.userId ? `user:${ctx.userId}` : `ip:${ctx?.ip ?? ip ?? 'unknown'}`;
}

/**
 * Long-running work counted per caller (exports, uploads): each caller's share of a limit, so
 * one client's slow transfers cannot take every slot.
 */
export class CallerSlots {
  private readonly running = new Map<string, number>();

  /** How many the caller has running. */
  held(caller: string): number {
    return this.running.get(caller) ?? 0;
  }

  take(caller: string): void {
    this.running.set(caller, this.held(caller) + 1);
  }

  release(caller: string): void {
    const left = this.held(caller) - 1;
    if (left > 0) this.running.set(caller, left);
    else this.running.delete(caller);
  }
}
