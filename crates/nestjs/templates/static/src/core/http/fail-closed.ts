import { BadRequestException, HttpException, Logger, ServiceUnavailableException } from '@nestjs/common';

const logger = new Logger('Access');

/**
 * Run a lookup that decides access (sign-in state, permissions, tenant membership). When it
 * fails for any reason other than a decision (the database is down, a query broke), the
 * request fails closed with 503 and the cause is logged: an outage never looks like a 403 or
 * a 404.
 */
export async function failClosed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof HttpException) throw e;
    // Bad input that reached a lookup (a malformed id): the caller's mistake, not an outage.
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code)) throw new BadRequestException(`${what}: a value is not valid`);
    logger.error(`${what} failed: ${e instanceof Error ? e.message : String(e)}`);
    throw new ServiceUnavailableException(`${what} is unavailable; retry later`);
  }
}
