import { BadRequestException, ForbiddenException, Inject, Injectable, NotFoundException, Optional } from '@nestjs/common';
import type { CrudRepository } from '../crud/repository.js';
import { ident } from '../crud/resource.js';
import { DatabaseService } from '../database/database.service.js';
import { requestContext } from '../http/request-context.js';
import { PERMISSION_CHECKER, type PermissionChecker } from '../rbac/permission.decorator.js';
import { TENANT_RESOLVER, type TenantResolver } from '../tenancy/tenant.decorator.js';
import type { NotifiedDto, NotifyDto, UnreadDto } from './notify.dto.js';
import { NotificationQueue } from './queue.js';
import { notEmbargoed } from './inbox.js';
import { render, variablesOf } from './render.js';
import { CHANNELS, type NotifyDef } from './types.js';

/** Variables as JSON, and a rendered message, at most this long (a notification is not a file). */
const MAX_VARIABLES = 16_384;
const MAX_MESSAGE = 65_536;

/**
 * Sending notifications and the recipient's own routes. A send checks who may be addressed
 * (yourself; anyone with the system's send permission), renders the template for the variables
 * given (every variable it uses is required), inserts one notification per recipient with its
 * outbox entry in one transaction, then asks the relay to hand them to the queue at once.
 */
@Injectable()
export class NotificationSender {
  constructor(
    private readonly db: DatabaseService,
    private readonly queue: NotificationQueue,
    @Optional() @Inject(PERMISSION_CHECKER) private readonly rbac?: PermissionChecker,
    @Optional() @Inject(TENANT_RESOLVER) private readonly tenancy?: TenantResolver,
  ) {}

  /**
   * The organization a tenant-scoped notification belongs to (the request's), after checking
   * that every recipient is a member of it: notifications never cross organizations.
   */
  private async tenantOf(def: NotifyDef, to: string[]): Promise<string | null> {
    if (!def.tenant) return null;
    const tenant = (requestContext() as { tenant?: string } | undefined)?.tenant;
    if (!tenant || !this.tenancy) throw new ForbiddenException('no organization for this request');
    for (const u of to) {
      try {
        await this.tenancy.resolve({ userId: u, header: tenant, method: 'GET' });
      } catch (e) {
        if (e instanceof ForbiddenException) throw new BadRequestException(`user ${u} is not a member of this organization`);
        throw e;
      }
    }
    return tenant;
  }

  private me(): string {
    const id = requestContext()?.userId;
    if (!id) throw new ForbiddenException('sign in to send notifications');
    return id;
  }

  async notify(def: NotifyDef, system: string, dto: NotifyDto): Promise<NotifiedDto> {
    const me = this.me();
    const to = [...new Set(dto.to)];
    const mayAddressOthers = async () => Boolean(this.rbac && (await this.rbac.can(me, def.permission)));
    if (to.some((u) => u !== me) && !(await mayAddressOthers())) {
      throw new ForbiddenException(`sending to other users needs ${def.permission}`);
    }
    // Urgent and security notifications go through quiet hours and opt-outs, and ahead in the queue.
    if (((dto.priority ?? 0) >= 2 || dto.category === 'security') && !(await mayAddressOthers())) {
      throw new ForbiddenException(`urgent and security notifications need ${def.permission}`);
    }
    const t = def.templates;
    if (!t) throw new NotFoundException('this project has no notification templates');
    const tr = await this.db.query(
      `SELECT ${ident(t.body)} AS body, ${t.subject ? ident(t.subject) : 'NULL'} AS subject, ${t.channel ? ident(t.channel) : 'NULL'} AS channel
         FROM ${t.table} WHERE ${ident(t.name)} = $1${t.active ? ` AND coalesce(${ident(t.active)}, true)` : ''}`,
      [dto.template],
    );
    const tpl = tr.rows[0] as { body: string; subject: string | null; channel: string | null } | undefined;
    if (!tpl) throw new NotFoundException(`no active template ${JSON.stringify(dto.template)}`);
    const vars = dto.variables ?? {};
    let used: Set<string>;
    try {
      used = new Set([...variablesOf(tpl.body), ...(tpl.subject ? variablesOf(tpl.subject) : [])]);
    } catch (e) {
      throw new BadRequestException(`template ${dto.template} does not parse: ${(e as Error).message}`);
    }
    const missing = [...used].filter((v) => !Object.hasOwn(vars, v) || vars[v] === undefined || vars[v] === null);
    if (JSON.stringify(vars).length > MAX_VARIABLES)
      throw new BadRequestException(`variables: at most ${MAX_VARIABLES} characters of JSON`);
    if (missing.length) throw new BadRequestException(`template ${dto.template} needs ${missing.map((m) => JSON.stringify(m)).join(', ')}`);
    const channel = dto.channel ?? tpl.channel ?? 'in-app';
    if (!(CHANNELS as readonly string[]).includes(channel))
      throw new BadRequestException(`channel: one of ${CHANNELS.join(', ')} (the template says ${channel})`);
    let title: string | null;
    let message: string;
    try {
      // Both escaped: a client shows them as text (an email's subject is the title's text).
      title = tpl.subject ? render(tpl.subject, vars) : null;
      message = render(tpl.body, vars);
    } catch (e) {
      throw new BadRequestException(`template ${dto.template}: ${(e as Error).message}`);
    }
    if (message.length > MAX_MESSAGE || (title?.length ?? 0) > MAX_MESSAGE) {
      throw new BadRequestException(`the rendered notification is longer than ${MAX_MESSAGE} characters`);
    }
    const sendAt = dto.sendAt ? new Date(dto.sendAt) : new Date();
    const expires = dto.expiresAt ? new Date(dto.expiresAt) : null;
    if (expires && expires.getTime() <= Date.now()) throw new BadRequestException('expiresAt: a time in the future');
    const n = def.notifications;
    const u = def.users;
    const tenant = await this.tenantOf(def, to);
    const ids = await this.db.systemTransaction(async (q) => {
      if (def.tenant && tenant) await q.query('SELECT set_config($1, $2, true)', [def.tenant.setting, tenant]);
      const known = await q.query(
        `SELECT ${ident(u.id)}::text AS id FROM ${u.table} WHERE ${ident(u.id)}::text = ANY($1::text[])${u.deletedAt ? ` AND ${ident(u.deletedAt)} IS NULL` : ''}`,
        [to],
      );
      const found = new Set((known.rows as { id: string }[]).map((r) => r.id));
      const unknown = to.filter((x) => !found.has(x));
      if (unknown.length) throw new BadRequestException(`no such user: ${unknown.slice(0, 5).join(', ')}`);
      const out: { id: string; recipient: string }[] = [];
      for (const recipient of to) {
        const cols = [ident(n.recipient), ident(n.message), ident(n.status)];
        const params: unknown[] = [recipient, message, 'pending'];
        const add = (c: string | undefined, v: unknown) => {
          if (!c || v === undefined) return;
          cols.push(ident(c));
          params.push(v);
        };
        add(n.channel, channel);
        add(n.title, title ?? undefined);
        add(n.category, dto.category);
        add(n.priority, dto.priority ?? 0);
        add(n.expiresAt, expires?.toISOString());
        add(n.data, n.data ? JSON.stringify({ template: dto.template }) : undefined);
        if (def.tenant) add(def.tenant.column, tenant);
        const r = await q.query(
          `INSERT INTO ${n.table} (${cols.join(', ')}) VALUES (${params.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING ${ident(n.id)}::text AS id`,
          params,
        );
        const id = (r.rows[0] as { id: string }).id;
        await q.query(
          'INSERT INTO nestgen.notification_outbox (notification_id, system, send_at, priority, tenant) VALUES ($1, $2, $3, $4, $5)',
          [id, system, sendAt.toISOString(), dto.priority ?? 0, tenant],
        );
        out.push({ id, recipient });
      }
      return out;
    });
    void this.queue.relay();
    return { data: ids };
  }

  /** Not held back (see inbox.ts): what a recipient may see and count. */
  private delivered(def: NotifyDef): string {
    return notEmbargoed(def.notifications.status);
  }

  private readAt(def: NotifyDef): string {
    if (!def.notifications.readAt) throw new NotFoundException('this table keeps no read time');
    return def.notifications.readAt;
  }

  async unread(def: NotifyDef, repo: CrudRepository): Promise<UnreadDto> {
    const n = def.notifications;
    const readAt = this.readAt(def);
    const me = this.me();
    const count = await repo.withScope(async (q) =>
      Number(
        (
          (
            await q.query(
              `SELECT count(*)::int AS n FROM ${n.table} WHERE ${ident(n.recipient)}::text = $1 AND ${ident(readAt)} IS NULL AND ${this.delivered(def)}`,
              [me],
            )
          ).rows[0] as { n: number }
        ).n,
      ),
    );
    return { count };
  }

  async readAll(def: NotifyDef, repo: CrudRepository): Promise<UnreadDto> {
    const n = def.notifications;
    const readAt = this.readAt(def);
    const me = this.me();
    const count = await repo.withScope(
      async (q) =>
        (
          await q.query(
            `UPDATE ${n.table} SET ${ident(readAt)} = now() WHERE ${ident(n.recipient)}::text = $1 AND ${ident(readAt)} IS NULL AND ${this.delivered(def)}`,
            [me],
          )
        ).rowCount ?? 0,
      'UPDATE',
    );
    return { count };
  }

  async read(def: NotifyDef, repo: CrudRepository, id: string): Promise<unknown> {
    const n = def.notifications;
    const readAt = this.readAt(def);
    const me = this.me();
    const key = { [repo.spec.fields.find((f) => f.column === n.id)?.property ?? n.id]: id };
    await repo.get(key);
    await repo.withScope(
      (q) =>
        q.query(
          `UPDATE ${n.table} SET ${ident(readAt)} = coalesce(${ident(readAt)}, now()) WHERE ${ident(n.id)}::text = $1 AND ${ident(n.recipient)}::text = $2`,
          [id, me],
        ),
      'UPDATE',
    );
    return repo.get(key);
  }
}
