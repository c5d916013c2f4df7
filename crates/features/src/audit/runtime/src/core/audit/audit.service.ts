import { BadRequestException, Injectable, Logger, NotFoundException, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { defineSettings } from '../config.js';
import { extensionOf } from '../crud/extension.js';
import type { CrudRepository, KeyValues } from '../crud/repository.js';
import { DatabaseService } from '../database/database.service.js';
import { AuditTrail } from './audit-trail.js';
import type { AuditHistoryResponseDto } from './audit.dto.js';
import { AUDIT } from './audit.tables.js';

function intParam(raw: unknown, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new BadRequestException(`${name}: an integer from ${min} to ${max}`);
  return n;
}

/** Section `audit`: how often the trail's maintenance runs (minutes, 0: never in this instance). */
const auditSettings = defineSettings('audit', (env) => ({
  maintenanceMinutes: env.int('AUDIT_MAINTENANCE_MINUTES', 60, 0, 10_080),
}));

/**
 * Reads the audit trail, and keeps it: every AUDIT_MAINTENANCE_MINUTES (default 60, 0 = off) it
 * runs nestgen.audit_maintenance() — monthly partitions made ahead of time, rows past their
 * table's retention policy removed, empty expired partitions dropped. The database lets one
 * instance at a time do it.
 */
@Injectable()
export class AuditService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AuditService.name);
  private readonly minutes = auditSettings().maintenanceMinutes;
  private timer?: NodeJS.Timeout;

  constructor(private readonly db: DatabaseService) {}

  onApplicationBootstrap(): void {
    if (this.minutes === 0) return;
    void this.maintain();
    this.timer = setInterval(() => void this.maintain(), this.minutes * 60_000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One maintenance pass; returns what it did. */
  async maintain(): Promise<Record<string, unknown> | undefined> {
    try {
      const { rows } = await this.db.query<{ r: Record<string, unknown> }>('SELECT nestgen.audit_maintenance() AS r');
      const r = rows[0]?.r;
      if (r && (Number(r.deletedRows) > 0 || Number(r.droppedPartitions) > 0 || Number(r.partitionsMade) > 0)) {
        this.logger.log(`audit maintenance: ${JSON.stringify(r)}`);
      }
      return r;
    } catch (e) {
      this.logger.warn(`audit maintenance failed: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** A row's recorded changes, newest first. */
  async history(repo: CrudRepository, key: KeyValues, query: { limit?: unknown; offset?: unknown }): Promise<AuditHistoryResponseDto> {
    const audit = extensionOf(repo.spec, AuditTrail)?.spec;
    if (!audit) throw new NotFoundException(`${repo.spec.name} is not audited`);
    const limit = intParam(query.limit, 'limit', 50, 1, 200);
    const offset = intParam(query.offset, 'offset', 0, 0, 100_000);
    const row = await repo.rowJson(key);
    const { rows } = await this.db.query(AUDIT.historySql, [audit.schema, audit.table, row, limit, offset]);
    return { data: rows as unknown as AuditHistoryResponseDto['data'], meta: { limit, offset } };
  }
}
