import { Body, Controller, Delete, ForbiddenException, Get, HttpCode, NotFoundException, Param, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiExtension,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiSchema,
  ApiTags,
} from '@nestjs/swagger';
import { IsBoolean, IsISO8601, IsOptional, IsString, MaxLength } from 'class-validator';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { ErrorResponseDto } from '../crud/dto.js';
import type { AuthUser } from '../auth/auth.guard.js';
import { DatabaseService } from '../database/database.service.js';
import { RequirePermission } from './permission.decorator.js';
import { RbacService, rbacSettings } from './rbac.service.js';
import { RBAC } from './rbac.tables.js';

@ApiSchema({ name: 'RbacEffectiveDto' })
class RbacEffectiveDto {
  @ApiProperty({ type: [String], description: 'Slugs of the roles the user holds, directly or inherited' })
  roles!: string[];

  @ApiProperty({ type: [String], description: 'Slugs of every permission the user has' })
  permissions!: string[];

  @ApiProperty({ description: 'Holds the super-admin role (every permission)' })
  superAdmin!: boolean;
}

@ApiSchema({ name: 'RbacEffectiveResponseDto' })
class RbacEffectiveResponseDto {
  @ApiProperty({ type: RbacEffectiveDto })
  data!: RbacEffectiveDto;
}

@ApiSchema({ name: 'RbacAssignRoleDto' })
class AssignRoleDto {
  @ApiProperty({ description: 'Role id' })
  @IsString()
  @MaxLength(100)
  roleId!: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'The role stops counting after this time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;
}

@ApiSchema({ name: 'RbacGrantDto' })
class GrantDto {
  @ApiProperty({ description: 'Permission id' })
  @IsString()
  @MaxLength(100)
  permissionId!: string;

  @ApiProperty({ description: 'true grants the permission, false revokes it even if a role grants it' })
  @IsBoolean()
  granted!: boolean;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;
}

/**
 * Role and permission assignments of users; every route requires `roles:manage`. No one hands
 * out more than they hold: a role only if every permission it gives is the caller's own (and
 * never the super-admin role), a grant or revoke only of a permission the caller has. Only a
 * super-admin is not bound by this.
 */
@ApiTags('rbac')
@ApiBearerAuth()
@ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such user, role or permission, or no such assignment to take away' })
@RequirePermission(RBAC.managePermission)
@ApiExtension('x-required-permission', RBAC.managePermission)
@Controller('rbac/users/:userId')
export class RbacController {
  constructor(
    private readonly db: DatabaseService,
    private readonly rbac: RbacService,
  ) {}

  private async userExists(userId: string): Promise<void> {
    const { rows } = await this.db.query(RBAC.userExistsSql, [userId]);
    if (rows.length === 0) throw new NotFoundException('user not found');
  }

  /** The role exists and gives nothing the caller lacks. */
  private async mayHandOutRole(by: AuthUser, roleId: string): Promise<void> {
    const { rows } = await this.db.query<{ slug: string | null; chain: string[]; permissions: string[] }>(RBAC.roleGrantsSql, [roleId]);
    const role = rows[0];
    if (!role?.slug) throw new NotFoundException('role not found');
    const mine = await this.rbac.effective(by.id);
    if (mine.superAdmin) return;
    // A role inherits what its parents are: one under super-admin is super-admin.
    const superAdmin = rbacSettings().superAdminRole;
    if (role.slug === superAdmin || role.chain.includes(superAdmin)) {
      throw new ForbiddenException('only a super-admin can give the super-admin role, or a role that inherits from it');
    }
    const missing = role.permissions.filter((p) => !mine.permissions.includes(p));
    if (missing.length > 0) {
      throw new ForbiddenException({ message: 'the role gives permissions you do not have', details: { missing: missing.sort() } });
    }
  }

  /** The permission exists and the caller holds it. */
  private async mayHandOutPermission(by: AuthUser, permissionId: string): Promise<void> {
    const { rows } = await this.db.query<{ slug: string }>(RBAC.permissionSlugSql, [permissionId]);
    if (!rows[0]) throw new NotFoundException('permission not found');
    if (!(await this.rbac.can(by.id, rows[0].slug))) {
      throw new ForbiddenException(`you can only grant or revoke permissions you have (${rows[0].slug})`);
    }
  }

  @Get('permissions')
  @ApiOperation({ summary: "A user's roles and effective permissions" })
  @ApiOkResponse({ type: RbacEffectiveResponseDto })
  async effective(@Param('userId') userId: string): Promise<RbacEffectiveResponseDto> {
    await this.userExists(userId);
    return { data: await this.rbac.effective(userId) };
  }

  @Post('roles')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Done' })
  @ApiOperation({ summary: 'Give a user a role (again: changes its expiry)' })
  @ApiForbiddenResponse({ description: 'Requires roles:manage, and every permission the role gives' })
  async assign(@Param('userId') userId: string, @Body() dto: AssignRoleDto, @CurrentUser() by: AuthUser): Promise<void> {
    await this.userExists(userId);
    await this.mayHandOutRole(by, dto.roleId);
    const values: Record<string, unknown> = { userId, roleId: dto.roleId, expiresAt: dto.expiresAt ?? null, by: by.id };
    await this.db.query(
      RBAC.assignRole.sql,
      RBAC.assignRole.args.map((a) => values[a]),
    );
    this.rbac.invalidate(userId);
  }

  @Delete('roles/:roleId')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Done' })
  @ApiOperation({ summary: 'Take a role from a user' })
  @ApiForbiddenResponse({ description: 'Requires roles:manage, and every permission the role gives' })
  async unassign(@Param('userId') userId: string, @Param('roleId') roleId: string, @CurrentUser() by: AuthUser): Promise<void> {
    await this.mayHandOutRole(by, roleId);
    const r = await this.db.query(RBAC.unassignRoleSql, [userId, roleId]);
    if (r.rowCount === 0) throw new NotFoundException('the user does not have that role');
    this.rbac.invalidate(userId);
  }

  @Post('permissions')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Done' })
  @ApiOperation({ summary: 'Grant or revoke one permission for a user, on top of their roles' })
  @ApiForbiddenResponse({ description: 'Requires roles:manage, and the permission itself' })
  async grant(@Param('userId') userId: string, @Body() dto: GrantDto, @CurrentUser() by: AuthUser): Promise<void> {
    if (!RBAC.grant) throw new NotFoundException('this schema has no user_permissions table');
    await this.userExists(userId);
    await this.mayHandOutPermission(by, dto.permissionId);
    const values: Record<string, unknown> = {
      userId,
      permissionId: dto.permissionId,
      granted: dto.granted,
      expiresAt: dto.expiresAt ?? null,
      by: by.id,
    };
    await this.db.query(
      RBAC.grant.sql,
      RBAC.grant.args.map((a) => values[a]),
    );
    this.rbac.invalidate(userId);
  }

  @Delete('permissions/:permissionId')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Done' })
  @ApiOperation({ summary: "Remove a user's direct grant or revoke" })
  async ungrant(@Param('userId') userId: string, @Param('permissionId') permissionId: string, @CurrentUser() by: AuthUser): Promise<void> {
    if (!RBAC.ungrantSql) throw new NotFoundException('this schema has no user_permissions table');
    await this.mayHandOutPermission(by, permissionId);
    const r = await this.db.query(RBAC.ungrantSql, [userId, permissionId]);
    if (r.rowCount === 0) throw new NotFoundException('no direct grant for that permission');
    this.rbac.invalidate(userId);
  }
}
