import { Body, Controller, Get, HttpCode, Inject, Optional, Post, Req } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ErrorResponseDto } from '../crud/dto.js';
import { PERMISSION_CHECKER, type PermissionChecker } from '../rbac/permission.decorator.js';
import {
  AcceptedDto,
  ChangePasswordDto,
  CodeDto,
  EmailTokenDto,
  ForgotPasswordDto,
  LoginDto,
  AuthMeDto,
  RefreshDto,
  AuthRegisteredDto,
  ResetPasswordDto,
  TokensDto,
  TwoFactorSetupDto,
} from './auth.dto.js';
import type { AuthUser } from './auth.guard.js';
import { AuthService, type ClientMeta } from './auth.service.js';
import { CurrentUser } from './current-user.decorator.js';
import { Public } from '../http/public.decorator.js';
import { RegisterDto } from './register.dto.js';

const meta = (req: FastifyRequest): ClientMeta => ({ ip: req.ip, userAgent: req.headers['user-agent'] });
const LIMITED = {
  type: ErrorResponseDto,
  description: 'Too many requests from this address or for this account (Retry-After tells when to try again)',
};

const WRONG_SECRETS = {
  type: ErrorResponseDto,
  description: 'Too many wrong codes or passwords for this account lately (Retry-After tells when to try again)',
};

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
  @ApiOperation({ summary: 'Create an account and sign in; a verification email is sent' })
  @ApiCreatedResponse({ type: AuthRegisteredDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The email is taken' })
  @ApiTooManyRequestsResponse(LIMITED)
  async register(@Body() dto: RegisterDto, @Req() req: FastifyRequest): Promise<AuthRegisteredDto> {
    await this.auth.limitAddress(meta(req));
    const { user, tokens } = await this.auth.register({ ...dto }, meta(req));
    return { data: user, tokens };
  }

  @Public()
  @Post('login')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Sign in',
    description:
      'Repeated failures from one address for one account make each further try wait longer (429 with Retry-After). ' +
      'Many failures from anywhere lock the account (423) until it runs out, a valid one-time code is given, or the password is reset.',
  })
  @ApiOkResponse({ type: TokensDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Wrong email, password or one-time code' })
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: 'The account is not active' })
  @ApiTooManyRequestsResponse(LIMITED)
  async login(@Body() dto: LoginDto, @Req() req: FastifyRequest): Promise<TokensDto> {
    await this.auth.limitAddress(meta(req));
    return this.auth.login(dto.email, dto.password, dto.totp, meta(req));
  }

  @Public()
  @Post('refresh')
  @HttpCode(200)
  @ApiOperation({ summary: 'New tokens for a refresh token (each refresh token works once)' })
  @ApiOkResponse({ type: TokensDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto })
  @ApiTooManyRequestsResponse(LIMITED)
  async refresh(@Body() dto: RefreshDto, @Req() req: FastifyRequest): Promise<TokensDto> {
    await this.auth.limitAddress(meta(req));
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

  @Public()
  @Post('verify-email')
  @HttpCode(204)
  @ApiOperation({ summary: 'Confirm an email address with the token sent to it (single use)' })
  @ApiNoContentResponse({ description: 'Verified' })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'The token is not valid, used or expired' })
  @ApiTooManyRequestsResponse(LIMITED)
  async verifyEmail(@Body() dto: EmailTokenDto, @Req() req: FastifyRequest): Promise<void> {
    await this.auth.limitAddress(meta(req));
    await this.auth.verifyEmail(dto.token);
  }

  @Post('verify-email/resend')
  @HttpCode(204)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Send a new verification email to the signed-in user' })
  @ApiNoContentResponse()
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Already verified' })
  @ApiTooManyRequestsResponse(LIMITED)
  async resendVerification(@CurrentUser() user: AuthUser): Promise<void> {
    await this.auth.resendVerification(user.id);
  }

  @Public()
  @Post('password/forgot')
  @HttpCode(202)
  @ApiOperation({ summary: 'Email a password reset token; the answer is the same whether or not the address has an account' })
  @ApiAcceptedResponse({ type: AcceptedDto })
  @ApiTooManyRequestsResponse(LIMITED)
  async forgotPassword(@Body() dto: ForgotPasswordDto, @Req() req: FastifyRequest): Promise<AcceptedDto> {
    await this.auth.limitAddress(meta(req));
    await this.auth.forgotPassword(dto.email);
    return { message: 'if the address has an account, a reset email is on its way' };
  }

  @Public()
  @Post('password/reset')
  @HttpCode(204)
  @ApiOperation({ summary: 'Set a new password with an emailed token; every session of the account is closed' })
  @ApiNoContentResponse()
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'The token is not valid, used or expired' })
  @ApiTooManyRequestsResponse(LIMITED)
  async resetPassword(@Body() dto: ResetPasswordDto, @Req() req: FastifyRequest): Promise<void> {
    await this.auth.limitAddress(meta(req));
    await this.auth.resetPassword(dto.token, dto.password);
  }

  @Post('password/change')
  @HttpCode(204)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Change your password (needs the current one); every session closes, this one too: sign in again' })
  @ApiNoContentResponse()
  @ApiUnauthorizedResponse({ type: ErrorResponseDto })
  @ApiTooManyRequestsResponse(WRONG_SECRETS)
  async changePassword(@CurrentUser() user: AuthUser, @Body() dto: ChangePasswordDto): Promise<void> {
    await this.auth.changePassword(user.id, dto.currentPassword, dto.newPassword);
  }

  @Get('me')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'The signed-in user, with roles and effective permissions' })
  @ApiOkResponse({ type: AuthMeDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto })
  async me(@CurrentUser() user: AuthUser): Promise<AuthMeDto> {
    const data = await this.auth.me(user.id);
    const access = this.rbac ? await this.rbac.effective(user.id) : undefined;
    return { data, emailVerified: user.emailVerified, ...(access ? { roles: access.roles, permissions: access.permissions } : {}) };
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
  @ApiOperation({ summary: 'Confirm the second factor with a current code (each code works once)' })
  @ApiNoContentResponse()
  @ApiTooManyRequestsResponse(WRONG_SECRETS)
  async verifyTwoFactor(@CurrentUser() user: AuthUser, @Body() dto: CodeDto): Promise<void> {
    await this.auth.verifyTwoFactor(user.id, dto.code, true);
  }

  @Post('2fa/disable')
  @HttpCode(204)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Turn the second factor off (needs a current code)' })
  @ApiNoContentResponse()
  @ApiTooManyRequestsResponse(WRONG_SECRETS)
  async disableTwoFactor(@CurrentUser() user: AuthUser, @Body() dto: CodeDto): Promise<void> {
    await this.auth.verifyTwoFactor(user.id, dto.code, false);
  }
}
