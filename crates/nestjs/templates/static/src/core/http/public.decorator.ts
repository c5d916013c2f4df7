import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'http:public';

/** A route anyone may call, signed in or not. Every other route needs a valid access token. */
export const Public = () => SetMetadata(IS_PUBLIC, true);
