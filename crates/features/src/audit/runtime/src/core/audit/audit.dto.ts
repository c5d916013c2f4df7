import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';

@ApiSchema({ name: 'AuditFieldChangeDto' })
export class AuditFieldChangeDto {
  @ApiProperty() field!: string;
  @ApiPropertyOptional({ nullable: true, type: String, description: '*** for a secret' }) oldValue!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: '*** for a secret' }) newValue!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'SQL type of the column' }) dataType!: string | null;
  @ApiPropertyOptional({ nullable: true, type: Boolean }) isSensitive!: boolean | null;
}

/** One recorded change: who, when, from where, what. */
@ApiSchema({ name: 'AuditEntryDto' })
export class AuditEntryDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: ['INSERT', 'UPDATE', 'DELETE', 'RESTORE'] }) operation!: string;
  @ApiPropertyOptional({ nullable: true, type: String }) userId!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) userEmail!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) userName!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) ipAddress!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) userAgent!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'X-Audit-Reason of the request' }) reason!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) requestId!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) correlationId!: string | null;
  @ApiPropertyOptional({ nullable: true, type: [String] }) changedFields!: string[] | null;
  @ApiPropertyOptional({ nullable: true, type: 'object', additionalProperties: true, description: 'The row before (secrets masked)' })
  oldValues!: Record<string, unknown> | null;
  @ApiPropertyOptional({ nullable: true, type: 'object', additionalProperties: true, description: 'The row after (secrets masked)' })
  newValues!: Record<string, unknown> | null;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ type: [AuditFieldChangeDto] }) changes!: AuditFieldChangeDto[];
}

@ApiSchema({ name: 'AuditHistoryMetaDto' })
export class AuditHistoryMetaDto {
  @ApiProperty() limit!: number;
  @ApiProperty() offset!: number;
}

@ApiSchema({ name: 'AuditHistoryResponseDto' })
export class AuditHistoryResponseDto {
  @ApiProperty({ type: [AuditEntryDto] }) data!: AuditEntryDto[];
  @ApiProperty({ type: AuditHistoryMetaDto }) meta!: AuditHistoryMetaDto;
}
