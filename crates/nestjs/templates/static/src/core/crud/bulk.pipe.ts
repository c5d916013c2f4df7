import { type ArgumentMetadata, BadRequestException, ParseArrayPipe, PayloadTooLargeException, type Type } from '@nestjs/common';

/** Rows one bulk request may carry. */
export const MAX_BULK = 1000;

/**
 * The body of a bulk route: a JSON array of at most MAX_BULK rows, checked before any row is
 * validated (validating a huge array first would block the event loop), then each row validated
 * like a single create.
 */
export class BulkPipe extends ParseArrayPipe {
  constructor(items: Type<unknown>) {
    super({ items, whitelist: true, forbidNonWhitelisted: true });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (!Array.isArray(value)) throw new BadRequestException('the body must be a JSON array of rows');
    if (value.length === 0) throw new BadRequestException('send at least one row');
    if (value.length > MAX_BULK) throw new PayloadTooLargeException(`send at most ${MAX_BULK} rows at once`);
    return super.transform(value, metadata);
  }
}
