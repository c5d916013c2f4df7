import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';

@ApiSchema({ name: 'SeriesRejectedRowDto' })
export class RejectedRowDto {
  @ApiProperty({ description: 'Line of the body where the row starts (1-based)' })
  line!: number;

  @ApiProperty({ description: 'Position of the row among the rows (1-based; a CSV header is not one)' })
  row!: number;

  @ApiProperty({ example: 'value must be a finite number' })
  reason!: string;
}

@ApiSchema({ name: 'SeriesIngestReportDto' })
export class IngestReportDto {
  @ApiProperty({ description: 'Rows stored' })
  accepted!: number;

  @ApiProperty({ description: 'Rows refused' })
  rejected!: number;

  @ApiProperty({ type: [RejectedRowDto], description: 'The first 100 rows refused, in order' })
  errors!: RejectedRowDto[];

  @ApiProperty({ description: 'Valid rows were stored though others were refused (?partial=true)' })
  partial!: boolean;
}

@ApiSchema({ name: 'SeriesPointDto' })
export class SeriesPointDto {
  @ApiProperty({ type: String, format: 'date-time', description: 'Start of the bucket' })
  time!: string;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    description: 'One member per aggregate asked for (avg, min, max, sum, count, p95, ...)',
  })
  avg?: number | null;
}

@ApiSchema({ name: 'SeriesGroupDto' })
export class SeriesGroupDto {
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The values of the group columns (empty without group)' })
  group!: Record<string, unknown>;

  @ApiProperty({ type: [SeriesPointDto] })
  points!: SeriesPointDto[];
}

@ApiSchema({ name: 'SeriesMetaDto' })
export class SeriesMetaDto {
  @ApiProperty({ type: String, format: 'date-time' })
  from!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  to!: string;

  @ApiProperty({ example: '1h' })
  bucket!: string;

  @ApiProperty()
  bucketSeconds!: number;

  @ApiProperty()
  field!: string;

  @ApiProperty({ type: [String] })
  aggregates!: string[];

  @ApiProperty({ type: [String] })
  group!: string[];

  @ApiProperty({ enum: ['none', 'null', 'zero', 'previous'] })
  fill!: string;

  @ApiProperty({ enum: ['raw', 'rollup'], description: 'Whether a rollup answered' })
  source!: string;

  @ApiPropertyOptional({ description: 'The rollup that answered' })
  rollup?: string;
}

@ApiSchema({ name: 'SeriesResponseDto' })
export class SeriesResponseDto {
  @ApiProperty({ type: [SeriesGroupDto] })
  data!: SeriesGroupDto[];

  @ApiProperty({ type: SeriesMetaDto })
  meta!: SeriesMetaDto;
}

@ApiSchema({ name: 'SeriesRollupRefreshDto' })
export class RollupRefreshDto {
  @ApiProperty()
  rollup!: string;

  @ApiProperty()
  refreshed!: boolean;

  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true, description: 'Buckets before it are materialized' })
  watermark?: string | null;

  @ApiPropertyOptional({ description: 'Another refresh was running' })
  busy?: boolean;
}

@ApiSchema({ name: 'SeriesMaintenanceReportDto' })
export class MaintenanceReportDto {
  @ApiProperty()
  series!: string;

  @ApiProperty({ enum: ['timescaledb', 'partitioned', 'plain'] })
  storage!: string;

  @ApiProperty()
  partitionsMade!: number;

  @ApiProperty({ type: [String] })
  droppedPartitions!: string[];

  @ApiProperty({ description: 'Expired rows deleted (plain tables and the default partition)' })
  deletedRows!: number;

  @ApiProperty({ type: [RollupRefreshDto] })
  rollups!: RollupRefreshDto[];
}

@ApiSchema({ name: 'SeriesStorageReportDto' })
export class StorageReportDto {
  @ApiProperty()
  series!: string;

  @ApiProperty({ enum: ['timescaledb', 'partitioned', 'plain'], description: 'How the database stores the series' })
  storage!: string;

  @ApiProperty({ type: String, nullable: true, description: 'Rows older than this are dropped' })
  retention!: string | null;

  @ApiProperty({ type: 'object', nullable: true, additionalProperties: true, description: 'count, from, to, width' })
  partitions!: Record<string, unknown> | null;

  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true } })
  rollups!: Record<string, unknown>[];
}
