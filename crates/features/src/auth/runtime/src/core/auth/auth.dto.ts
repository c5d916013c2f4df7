import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

@ApiSchema({ name: 'AuthLoginDto' })
export class LoginDto {
  @ApiProperty({ format: 'email', maxLength: 320 })
  @IsString()
  @MaxLength(320)
  email!: string;

  @ApiProperty({ format: 'password', writeOnly: true, maxLength: 256 })
  @IsString()
  @MaxLength(256)
  password!: string;

  @ApiPropertyOptional({ description: 'Current one-time code, when the second factor is on', example: '123456' })
  @IsOptional()
  @Matches(/^\d{6}$/, { message: 'totp must be 6 digits' })
  totp?: string;
}

@ApiSchema({ name: 'AuthRefreshDto' })
export class RefreshDto {
  @ApiProperty({ writeOnly: true })
  @IsString()
  @MinLength(20)
  @MaxLength(200)
  refreshToken!: string;
}

@ApiSchema({ name: 'AuthCodeDto' })
export class CodeDto {
  @ApiProperty({ example: '123456' })
  @Matches(/^\d{6}$/, { message: 'code must be 6 digits' })
  code!: string;
}

@ApiSchema({ name: 'AuthTokensDto' })
export class TokensDto {
  @ApiProperty({ description: 'Bearer token for the Authorization header' })
  accessToken!: string;

  @ApiProperty({ description: 'Single use: trade it at POST /auth/refresh for new tokens' })
  refreshToken!: string;

  @ApiProperty({ enum: ['Bearer'] })
  tokenType!: 'Bearer';

  @ApiProperty({ description: 'Seconds until the access token expires' })
  expiresIn!: number;
}

@ApiSchema({ name: 'AuthRegisteredDto' })
export class AuthRegisteredDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The new account, as GET on the users resource shows it (no secrets)',
  })
  data!: Record<string, unknown>;

  @ApiProperty({ type: TokensDto })
  tokens!: TokensDto;
}

@ApiSchema({ name: 'AuthMeDto' })
export class AuthMeDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The account, as GET on the users resource shows it (no secrets)',
  })
  data!: Record<string, unknown>;

  @ApiProperty()
  emailVerified!: boolean;

  @ApiPropertyOptional({ type: [String], description: 'Role slugs (with role-based access control)' })
  roles?: string[];

  @ApiPropertyOptional({ type: [String], description: 'Permission slugs (with role-based access control)' })
  permissions?: string[];
}

@ApiSchema({ name: 'AuthTwoFactorSetupDto' })
export class TwoFactorSetupDto {
  @ApiProperty({ description: 'Base32 secret for an authenticator app' })
  secret!: string;

  @ApiProperty({ description: 'otpauth:// URL (show it as a QR code)' })
  otpauthUrl!: string;
}

@ApiSchema({ name: 'AuthEmailTokenDto' })
export class EmailTokenDto {
  @ApiProperty({ description: 'The token from the email', writeOnly: true })
  @IsString()
  @MinLength(20)
  @MaxLength(200)
  token!: string;
}

@ApiSchema({ name: 'AuthForgotPasswordDto' })
export class ForgotPasswordDto {
  @ApiProperty({ format: 'email', maxLength: 320 })
  @IsString()
  @MaxLength(320)
  email!: string;
}

@ApiSchema({ name: 'AuthResetPasswordDto' })
export class ResetPasswordDto {
  @ApiProperty({ description: 'The token from the email', writeOnly: true })
  @IsString()
  @MinLength(20)
  @MaxLength(200)
  token!: string;

  @ApiProperty({ format: 'password', writeOnly: true, minLength: 8, maxLength: 256 })
  @IsString()
  @MinLength(8)
  @MaxLength(256)
  password!: string;
}

@ApiSchema({ name: 'AuthChangePasswordDto' })
export class ChangePasswordDto {
  @ApiProperty({ format: 'password', writeOnly: true, maxLength: 256 })
  @IsString()
  @MaxLength(256)
  currentPassword!: string;

  @ApiProperty({ format: 'password', writeOnly: true, minLength: 8, maxLength: 256 })
  @IsString()
  @MinLength(8)
  @MaxLength(256)
  newPassword!: string;
}

@ApiSchema({ name: 'AuthAcceptedDto' })
export class AcceptedDto {
  @ApiProperty()
  message!: string;
}
