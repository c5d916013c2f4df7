import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The one error shape every route returns. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details?: unknown;
  requestId?: string;
}

interface PgError {
  code: string;
  message?: string;
  constraint?: string;
  detail?: string;
  column?: string;
  table?: string;
}

function isPgError(e: unknown): e is PgError {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { code?: unknown }).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((e as { code: string }).code) &&
    'severity' in e
  );
}

/** The database is out of reach: the server is down, the connection broke, or every connection is busy. */
function isUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  return (
    (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) ||
    // pg's own: a pool wait that timed out, a connection the server ended, a client used after
    // its connection broke (a ROLLBACK on a terminated connection).
    /timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error/.test(e.message)
  );
}

/** `Key (email)=(a@b.c) already exists.` → ["email"] */
function keyColumns(detail: string | undefined): string[] | undefined {
  const m = detail?.match(/^Key \(([^)]*)\)=/);
  return m ? m[1].split(',').map((s) => s.trim().replace(/^"|"$/g, '')) : undefined;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  423: 'Locked',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The error shape for `status`: what the filter below answers, and what the app's hooks answer before it. */
export function errorBody(status: number, message: string, requestId: string, details?: unknown): ErrorBody {
  return { statusCode: status, error: REASONS[status] ?? 'Error', message, ...(details === undefined ? {} : { details }), requestId };
}

/** Map a PostgreSQL error to an HTTP status and a message that does not leak SQL. */
export function fromPgError(e: PgError): { status: number; message: string; details?: unknown } {
  const columns = keyColumns(e.detail);
  switch (e.code) {
    case '23505':
      return {
        status: 409,
        message: `A row with the same ${columns?.join(', ') ?? 'unique key'} already exists`,
        details: { constraint: e.constraint, columns },
      };
    case '23503':
      return e.detail?.includes('is still referenced')
        ? { status: 409, message: 'The row is still referenced by other rows', details: { constraint: e.constraint } }
        : {
            status: 409,
            message: `The referenced ${columns?.join(', ') ?? 'row'} does not exist`,
            details: { constraint: e.constraint, columns },
          };
    case '23502':
      return { status: 400, message: `${e.column ?? 'A required field'} must not be null`, details: { column: e.column } };
    case '23514':
      return /no partition of relation/.test(e.message ?? '')
        ? { status: 400, message: 'No partition of the table takes this row: its partition key is outside every range' }
        : { status: 400, message: 'A value breaks a check rule of the table', details: { constraint: e.constraint } };
    case '23P01':
      return { status: 409, message: 'The row conflicts with an existing one', details: { constraint: e.constraint } };
    case '22P02':
    case '22007':
    case '22008':
    case '22003':
    case '22001':
    case '22023':
    case '2201W':
    case '2201X':
    case '22P05':
    case '22021':
      return { status: 400, message: 'A value is not valid for its column type or range' };
    case '40001':
    case '40P01':
      return { status: 503, message: 'The request conflicted with another one; retry it' };
    case '57014':
      return { status: 504, message: 'The query took too long' };
    case '53000':
    case '53100':
    case '53200':
    case '53300':
    case '57P03':
      return { status: 503, message: 'The database is busy; retry later' };
    case '57P01':
    case '57P02':
    case '57P05':
      // The server ended the connection (shut down, restarted, an administrator's
      // pg_terminate_backend, an idle-session timeout): the pool makes a new one on the next request.
      return { status: 503, message: 'The database connection was lost; retry later' };
    case '55000':
      if (/has not been populated/.test(e.message ?? '')) {
        return { status: 503, message: 'The materialized view has not been populated yet (REFRESH MATERIALIZED VIEW)' };
      }
      return /not currently accepting connections/.test(e.message ?? '')
        ? { status: 503, message: 'The database is not accepting connections; retry later' }
        : { status: 500, message: 'Internal server error' };
    case '54000':
    case '54001':
      // Program limits: a value too large for an index row, an expression too complex.
      return { status: 400, message: 'A value is too large for the database to store or index' };
    case '42883':
      // A filter on a view column whose type could not be known offline (read the live
      // database with --database-url to get it right).
      return { status: 400, message: "This filter does not apply to the column's type" };
    case '42501':
      return { status: 403, message: 'The database refused this change for the signed-in user' };
    default:
      // Class 22 is bad data (a LIKE pattern ending in a backslash, a value out of range);
      // class 08 a connection that failed or broke.
      if (e.code.startsWith('22')) return { status: 400, message: 'A value is not valid for its column type or range' };
      if (e.code.startsWith('08')) return { status: 503, message: 'The database connection was lost; retry later' };
      return { status: 500, message: 'Internal server error' };
  }
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const request = ctx.getRequest<FastifyRequest>();
    let status = HttpStatus.INTERNAL_SERVER_ERROR;
    let message = 'Internal server error';
    let details: unknown;

    if (exception instanceof HttpException) {
      status = exception.getStatus();
      const body = exception.getResponse();
      if (typeof body === 'string') {
        message = body;
      } else if (typeof body === 'object' && body !== null) {
        const b = body as { message?: unknown; details?: unknown };
        if (Array.isArray(b.message)) {
          message = b.message.join('; ');
          details = { errors: b.message };
        } else if (typeof b.message === 'string') {
          message = b.message;
        }
        if (b.details !== undefined) details = b.details;
      }
    } else if (isPgError(exception)) {
      const mapped = fromPgError(exception);
      status = mapped.status;
      message = mapped.message;
      details = mapped.details;
      if (status >= 500) {
        this.logger.error(`database error ${exception.code} on ${request.method} ${request.url}: ${exception.message ?? ''}`);
      }
    } else if (isUnavailable(exception)) {
      status = 503;
      message = 'The database is not reachable; retry later';
      this.logger.error(`database unavailable on ${request.method} ${request.url}: ${(exception as Error).message}`);
    } else if (typeof exception === 'object' && exception !== null && 'statusCode' in exception) {
      // Fastify's own errors (body too large, bad JSON, unsupported media type).
      const s = Number((exception as { statusCode: unknown }).statusCode);
      if (s >= 400 && s < 600) {
        status = s;
        message = (exception as { message?: string }).message ?? message;
      }
    }
    // 501 and 503 are answers, not faults (a route the configuration does not offer; an outage already logged).
    if (status >= 500 && !isPgError(exception) && status !== 503 && status !== 501) {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    }
    const payload = errorBody(status, message, String(request.id), details);
    const retryAfter = (details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    if (status === 429 && typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(payload);
  }
}
