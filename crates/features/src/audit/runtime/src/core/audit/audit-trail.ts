import type { Queryable } from '../database/database.service.js';
import type { CallScope, ChangeOp, CrudCall, CrudExtension, RowChange } from '../crud/extension.js';

/** An audited table (`schema` and `table` unquoted) and who writes its audit rows. */
export interface AuditTrailSpec {
  readonly schema: string;
  readonly table: string;
  readonly mode: 'application' | 'trigger';
}

/**
 * Every change to an audited table is recorded in the audit trail in its own transaction (a
 * refused audit row undoes the change): by the app (`application`: the repository hands over
 * each changed row's old and new values) or by the table's trigger (`trigger`). Either way the
 * change runs with `nestgen.audit_context` set: who, from where, why (`X-Audit-Reason`).
 */
export class AuditTrail implements CrudExtension {
  constructor(readonly spec: AuditTrailSpec) {}

  begin({ ctx, op }: CrudCall): CallScope | undefined {
    if (!op) return undefined;
    const given = ctx?.headers?.['x-audit-reason'];
    const reason = typeof given === 'string' && given.trim() ? given.trim().slice(0, 1000) : undefined;
    const context = JSON.stringify({
      userId: ctx?.userId,
      email: ctx?.email,
      ip: ctx?.ip,
      userAgent: ctx?.userAgent,
      requestId: ctx?.requestId,
      correlationId: ctx?.correlationId,
      reason,
      op,
      opTable: `${this.spec.schema}.${this.spec.table}`,
    });
    return {
      settings: [['nestgen.audit_context', context]],
      record: this.spec.mode === 'application' ? (q, change, rows) => this.record(q, change, rows) : undefined,
    };
  }

  /** Record changed rows in the audit trail, in the change's transaction (mode `application`). */
  private async record(q: Queryable, op: ChangeOp, changes: RowChange[]): Promise<void> {
    // The rows stay PostgreSQL's own JSON text: no JavaScript number ever rounds a value.
    const json = (v: unknown) => (typeof v === 'string' ? v : 'null');
    const rows = `[${changes.map((c) => `{"old":${json(c.old)},"new":${json(c.new)}}`).join(',')}]`;
    await q.query('SELECT nestgen.audit_record($1, $2, $3, $4::jsonb)', [this.spec.schema, this.spec.table, op, rows]);
  }
}

export const auditTrail = (spec: AuditTrailSpec): AuditTrail => new AuditTrail(spec);
