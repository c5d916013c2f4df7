import { Body, Controller, Get, HttpCode, Inject, Optional, Post, Req } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ErrorResponseDto } from '../crud/dto.js';
import { PERMISSION_CHECKER, type PermissionChecker } from '../rbac/permission.decorator.js';
import { CodeDto, LoginDto, RefreshDto, TokensDto, TwoFactorSetupDto } from './auth.dto.js';
import type { AuthUser } from './auth.guard.js';
import { AuthService } from './auth.service.js';
import { CurrentUser } from './current-user.decorator.js';
import { Public } from '../http/public.decorator.js';
import { RegisterDto } from './register.dto.js';

const meta = (req: FastifyRequest) => ({ ip: req.ip, userAgent: req.headers['user-agent'] });

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    @Optional() @Inject(PERMISSION_CHECKER) private readonly rbac?: PermissionChecker,
  ) {}

  @Public()
  @Post('register')
  @HttpCode(201)
  @ApiOperation({ summary: 'Create an account and sign in' })
  @ApiCreatedResponse({ description: '{ data: user, tokens }' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The email is taken' })
  async register(@Body() dto: RegisterDto, @Req() req: FastifyRequest) {
    const { user, tokens } = await this.auth.register({ ...dto }, meta(req));
    return { data: user, tokens };
  }

  @Public()
  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign in; too many failures lock the account for a while (423)' })
  @ApiOkResponse({ type: TokensDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Wrong email, password or one-time code' })
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: 'The account is not active' })
  login(@Body() dto: LoginDto, @Req() req: FastifyRequest): Promise<TokensDto> {
    return this.auth.login(dto.email, dto.password, dto.totp, meta(req));
  }

  @Public()
  @Post('refresh')
  @HttpCode(200)
  @ApiOperation({ summary: 'New tokens for a refresh token (each refresh token works once)' })
  @ApiOkResponse({ type: TokensDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto })
  refresh(@Body() dto: RefreshDto, @Req() req: FastifyRequest): Promise<TokensDto> {
    return this.auth.refresh(dto.refreshToken, meta(req));
  }

  @Public()
  @Post('logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'Sign out: the refresh token and its rotations stop working' })
  @ApiNoContentResponse()
  async logout(@Body() dto: RefreshDto): Promise<void> {
    await this.auth.logout(dto.refreshToken);
  }

  @Get('me')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'The signed-in user, with roles and effective permissions' })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto })
  async me(@CurrentUser() user: AuthUser) {
    const data = await this.auth.me(user.id);
    const access = this.rbac ? await this.rbac.effective(user.id) : undefined;
    return { data, ...(access ? { roles: access.roles, permissions: access.permissions } : {}) };
  }

  @Post('2fa/enable')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Start the second factor: returns a secret; it is active after /auth/2fa/verify' })
  @ApiOkResponse({ type: TwoFactorSetupDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The second factor is already on' })
  enableTwoFactor(@CurrentUser() user: AuthUser): Promise<TwoFactorSetupDto> {
    return this.auth.startTwoFactor(user.id, user.email);
  }

  @Post('2fa/verify')
  @HttpCode(204)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Confirm the second factor with a current code' })
  async verifyTwoFactor(@CurrentUser() user: AuthUser, @Body() dto: CodeDto): Promise<void> {
    await this.auth.verifyTwoFactor(user.id, dto.code, true);
  }

  @Post('2fa/disable')
  @HttpCode(204)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Turn the second factor off (needs a current code)' })
  async disableTwoFactor(@CurrentUser() user: AuthUser, @Body() dto: CodeDto): Promise<void> {
    await this.auth.verifyTwoFactor(user.id, dto.code, false);
  }
}
