import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsIn, IsInt, IsISO8601, IsObject, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { CHANNELS } from './types.js';

@ApiSchema({ name: 'NotifyDto' })
export class NotifyDto {
  @ApiProperty({ maxLength: 200, description: 'The template’s name' })
  @IsString()
  @Length(1, 200)
  template!: string;

  @ApiProperty({
    type: [String],
    minItems: 1,
    maxItems: 1000,
    description: 'Recipients’ user ids (yourself; anyone else needs <table>:send)',
  })
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @Length(1, 100, { each: true })
  to!: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Every variable the template uses' })
  @IsOptional()
  @IsObject()
  variables?: Record<string, unknown>;

  @ApiPropertyOptional({ enum: CHANNELS, description: 'Default: the template’s type' })
  @IsOptional()
  @IsIn(CHANNELS)
  channel?: (typeof CHANNELS)[number];

  @ApiPropertyOptional({
    maxLength: 50,
    description: 'e.g. security (never delayed by quiet hours, never opted out of; needs <table>:send), marketing, updates',
  })
  @IsOptional()
  @IsString()
  @Length(1, 50)
  category?: string;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: 2,
    description: '0 normal, 1 high, 2 urgent (through quiet hours; needs <table>:send)',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(2)
  priority?: number;

  @ApiPropertyOptional({ format: 'date-time', description: 'Deliver at (default: now)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  sendAt?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Not delivered after this' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;
}

class Notified {
  @ApiProperty()
  id!: string;
  @ApiProperty()
  recipient!: string;
}

@ApiSchema({ name: 'NotifyNotifiedDto' })
export class NotifiedDto {
  @ApiProperty({ type: [Notified] })
  data!: Notified[];
}

@ApiSchema({ name: 'NotifyUnreadDto' })
export class UnreadDto {
  @ApiProperty({ type: 'integer' })
  count!: number;
}
