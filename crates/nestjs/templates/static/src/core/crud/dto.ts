import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** `meta` of every list response. */
export class ListMetaDto {
  @ApiProperty({ description: 'Rows per page' })
  limit!: number;

  @ApiPropertyOptional({ description: 'Rows skipped (offset paging)' })
  offset?: number;

  @ApiPropertyOptional({ description: 'Total rows matching the filters (count=exact) or the planner estimate (count=estimated)' })
  count?: number;

  @ApiProperty({ enum: ['exact', 'estimated', 'none'] })
  countMode!: 'exact' | 'estimated' | 'none';

  @ApiPropertyOptional({
    description:
      'Pass as ?cursor= to get the next page; absent on the last page, and always absent for resources without a key (views): page those with offset',
  })
  nextCursor?: string;
}

/** An answer of `GET /<table>/aggregate`: its rows' shape is the route's, in the OpenAPI document. */
export class AggregateResponseDto {
  data!: Record<string, unknown>[];
  meta!: { limit: number; more: boolean };
}

/** The one error shape of the API. */
export class ErrorResponseDto {
  @ApiProperty({ example: 400 })
  statusCode!: number;

  @ApiProperty({ example: 'Bad Request' })
  error!: string;

  @ApiProperty({ example: 'limit: at most 100' })
  message!: string;

  @ApiPropertyOptional({ description: 'Machine-readable details (validation errors, constraint, columns)' })
  details?: unknown;

  @ApiPropertyOptional({ description: 'Id of the request, also in the x-request-id header' })
  requestId?: string;
}
