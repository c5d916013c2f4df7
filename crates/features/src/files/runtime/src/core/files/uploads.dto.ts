import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { IsInt, IsString, Length, Min } from 'class-validator';

/** An upload straight to the object store: what the bytes will be. */
@ApiSchema({ name: 'FilesPresignUploadDto' })
export class PresignUploadDto {
  @ApiProperty({ minLength: 1, maxLength: 1024, description: 'The file’s name (sanitised as for any upload)' })
  @IsString()
  @Length(1, 1024)
  name!: string;

  @ApiProperty({ minimum: 0, description: 'Its exact size in bytes (signed into the URL; at most FILES_MAX_BYTES)' })
  @IsInt()
  @Min(0)
  sizeBytes!: number;
}

@ApiSchema({ name: 'FilesPresignedUploadDto' })
export class PresignedUploadDto {
  @ApiProperty({ description: 'Complete the upload with POST .../uploads/{uploadId}/complete once the bytes are PUT' })
  uploadId!: string;
  @ApiProperty({ enum: ['PUT'] })
  method!: 'PUT';
  @ApiProperty({ description: 'Where to PUT the bytes (time-limited)' })
  url!: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, description: 'Headers the PUT must carry as they are' })
  headers!: Record<string, string>;
  @ApiProperty({ format: 'date-time' })
  expiresAt!: string;
}
