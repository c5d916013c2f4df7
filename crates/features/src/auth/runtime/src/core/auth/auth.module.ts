import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { MailService } from '../mail/mail.service.js';
import { AUTH_CONFIG, authSettings } from './auth.config.js';
import { AuthController } from './auth.controller.js';
import { AuthGuard } from './auth.guard.js';
import { AuthService } from './auth.service.js';

/** Sign-in and the global guard: every route needs an access token unless marked @Public(). */
@Global()
@Module({
  controllers: [AuthController],
  providers: [{ provide: AUTH_CONFIG, useFactory: authSettings }, MailService, AuthService, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [AUTH_CONFIG, AuthService, MailService],
})
export class AuthModule {}
