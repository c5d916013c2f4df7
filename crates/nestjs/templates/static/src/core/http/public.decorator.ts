import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

export const IS_PUBLIC = 'http:public';

/**
 * A route anyone may call, signed in or not. Every other route needs a valid access token. The
 * OpenAPI document says so (`security: []`; core/crud/openapi.ts reads the `x-public` mark).
 */
export const Public = () => applyDecorators(SetMetadata(IS_PUBLIC, true), ApiExtension('x-public', true));
