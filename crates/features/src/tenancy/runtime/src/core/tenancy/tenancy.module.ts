import { Global, Module } from '@nestjs/common';
import { TENANT_RESOLVER } from './tenant.decorator.js';
import { TenancyController } from './tenancy.controller.js';
import { TenancyService } from './tenancy.service.js';

@Global()
@Module({
  controllers: [TenancyController],
  providers: [TenancyService, { provide: TENANT_RESOLVER, useExisting: TenancyService }],
  exports: [TenancyService, TENANT_RESOLVER],
})
export class TenancyModule {}
