import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AuthUser, AuthedRequest } from './auth.guard.js';

/** The signed-in user of the request (set by AuthGuard). */
export const CurrentUser = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthUser => {
  const user = ctx.switchToHttp().getRequest<AuthedRequest>().user;
  if (!user) throw new Error('CurrentUser on a public route');
  return user;
});
