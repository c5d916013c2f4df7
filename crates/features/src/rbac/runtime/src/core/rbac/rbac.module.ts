import { Global, Module } from '@nestjs/common';
import { PERMISSION_CHECKER } from './permission.decorator.js';
import { RbacController } from './rbac.controller.js';
import { RbacService } from './rbac.service.js';

@Global()
@Module({
  controllers: [RbacController],
  providers: [RbacService, { provide: PERMISSION_CHECKER, useExisting: RbacService }],
  exports: [RbacService, PERMISSION_CHECKER],
})
export class RbacModule {}
