import { Controller, Get, HttpCode, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { DatabaseService } from '../database/database.service.js';
import { Public } from '../http/public.decorator.js';

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(private readonly db: DatabaseService) {}

  @Get()
  @HttpCode(200)
  @ApiOperation({ summary: 'Whether the app and its database answer' })
  @ApiOkResponse({
    description: 'The app and its database answer',
    schema: {
      type: 'object',
      properties: { status: { type: 'string', enum: ['ok'] }, database: { type: 'string', enum: ['up'] } },
      required: ['status', 'database'],
      example: { status: 'ok', database: 'up' },
    },
  })
  @ApiServiceUnavailableResponse({ description: 'The database does not answer' })
  async check(): Promise<{ status: string; database: string }> {
    if (!(await this.db.ping())) {
      throw new ServiceUnavailableException('database unavailable');
    }
    return { status: 'ok', database: 'up' };
  }
}
