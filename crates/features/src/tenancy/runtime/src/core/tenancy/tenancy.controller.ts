import { Body, Controller, ForbiddenException, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiSchema,
  ApiTags,
  PickType,
} from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { AUTH_CONFIG, type AuthConfig } from '../auth/auth.config.js';
import { TokensDto } from '../auth/auth.dto.js';
import type { AuthUser } from '../auth/auth.guard.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { signAccessToken } from '../auth/jwt.js';
import { ErrorResponseDto } from '../crud/dto.js';
import { failClosed } from '../http/fail-closed.js';
import { TenancyService } from './tenancy.service.js';

@ApiSchema({ name: 'TenancyMembershipDto' })
class TenancyMembershipDto {
  @ApiProperty({ description: 'The organization' })
  id!: string;

  @ApiProperty({ type: String, nullable: true, description: 'Your role in it' })
  role!: string | null;
}

@ApiSchema({ name: 'TenancyMembershipsResponseDto' })
class TenancyMembershipsResponseDto {
  @ApiProperty({ type: [TenancyMembershipDto] })
  data!: TenancyMembershipDto[];
}

@ApiSchema({ name: 'TenancyInvitationDto' })
class TenancyInvitationDto {
  @ApiProperty({ description: 'The membership row' })
  id!: string;

  @ApiProperty()
  organizationId!: string;

  @ApiProperty({ type: String, nullable: true })
  role!: string | null;
}

@ApiSchema({ name: 'TenancyInvitationsResponseDto' })
class TenancyInvitationsResponseDto {
  @ApiProperty({ type: [TenancyInvitationDto] })
  data!: TenancyInvitationDto[];
}

@ApiSchema({ name: 'TenancyInvitationResponseDto' })
class TenancyInvitationResponseDto {
  @ApiProperty({ type: TenancyInvitationDto })
  data!: TenancyInvitationDto;
}

/** A new access token acting in the chosen organization (no refresh token: the session's stays). */
@ApiSchema({ name: 'TenancyOrganizationTokenDto' })
class TenancyOrganizationTokenDto extends PickType(TokensDto, ['accessToken', 'tokenType', 'expiresIn'] as const) {
  @ApiProperty()
  organizationId!: string;
}

@ApiSchema({ name: 'TenancyChooseOrganizationDto' })
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
  @ApiOkResponse({ type: TenancyMembershipsResponseDto })
  async list(@CurrentUser() user: AuthUser): Promise<TenancyMembershipsResponseDto> {
    return { data: await failClosed('the organization list', () => this.tenancy.organizations(user.id)) };
  }

  @Post('organization')
  @HttpCode(200)
  @ApiOperation({ summary: 'Act in another organization you belong to: returns a new access token' })
  @ApiOkResponse({ type: TenancyOrganizationTokenDto })
  @ApiForbiddenResponse({ type: ErrorResponseDto })
  async choose(@CurrentUser() user: AuthUser, @Body() dto: ChooseOrganizationDto): Promise<TenancyOrganizationTokenDto> {
    const m = await failClosed('the organization check', () => this.tenancy.membership(dto.organizationId, user.id));
    if (!m.member) throw new ForbiddenException('you are not a member of that organization');
    const accessToken = await signAccessToken(this.config, {
      sub: user.id,
      email: user.email,
      sv: user.sessionVersion,
      // The same sign-in: signing out (or a replayed refresh token) ends this token too.
      sid: user.sessionId,
      org: dto.organizationId,
    });
    return { accessToken, tokenType: 'Bearer', expiresIn: this.config.accessTtlSeconds, organizationId: dto.organizationId };
  }

  @Get('invitations')
  @ApiOperation({ summary: 'Memberships waiting for you: rows with your verified email, not yet linked to anyone' })
  @ApiOkResponse({ type: TenancyInvitationsResponseDto })
  async invitations(@CurrentUser() user: AuthUser): Promise<TenancyInvitationsResponseDto> {
    if (!user.emailVerified) return { data: [] };
    return { data: await failClosed('the invitation list', () => this.tenancy.invitations(user.id)) };
  }

  @Post('invitations/:id/accept')
  @HttpCode(200)
  @ApiOperation({ summary: 'Accept an invitation: the membership is linked to your account (needs a verified email)' })
  @ApiOkResponse({ type: TenancyInvitationResponseDto })
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: 'Your email is not verified' })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async accept(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<TenancyInvitationResponseDto> {
    if (!user.emailVerified) throw new ForbiddenException('verify your email address first (POST /auth/verify-email)');
    return { data: await failClosed('the invitation', () => this.tenancy.accept(user.id, id)) };
  }
}
