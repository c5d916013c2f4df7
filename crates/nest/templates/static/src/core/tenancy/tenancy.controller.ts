import { Body, Controller, ForbiddenException, Get, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { AUTH_CONFIG, type AuthConfig } from '../auth/auth.config.js';
import type { AuthUser } from '../auth/auth.guard.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { signAccessToken } from '../auth/jwt.js';
import { TenancyService } from './tenancy.service.js';

class ChooseOrganizationDto {
  @ApiProperty({ description: 'Organization id' })
  @IsString()
  @MaxLength(100)
  organizationId!: string;
}

@ApiTags('auth')
@ApiBearerAuth()
@Controller('auth')
export class TenancyController {
  constructor(
    private readonly tenancy: TenancyService,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
  ) {}

  @Get('organizations')
  @ApiOperation({ summary: 'Organizations the signed-in user belongs to, with their role' })
  async list(@CurrentUser() user: AuthUser) {
    return { data: await this.tenancy.organizations(user.id, user.email) };
  }

  @Post('organization')
  @HttpCode(200)
  @ApiOperation({ summary: 'Act in another organization you belong to: returns a new access token' })
  async choose(@CurrentUser() user: AuthUser, @Body() dto: ChooseOrganizationDto) {
    const m = await this.tenancy.membership(dto.organizationId, user.id, user.email);
    if (!m.member) throw new ForbiddenException('you are not a member of that organization');
    const accessToken = await signAccessToken(this.config, { sub: user.id, email: user.email, org: dto.organizationId });
    return { accessToken, tokenType: 'Bearer', expiresIn: this.config.accessTtlSeconds, organizationId: dto.organizationId };
  }
}
