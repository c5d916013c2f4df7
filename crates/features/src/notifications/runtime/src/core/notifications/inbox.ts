import type { CallScope, CrudCall, CrudExtension } from '../crud/extension.js';
import { ident } from '../crud/resource.js';

/** Not delivered yet: content a recipient does not see until its time (a scheduled send, quiet hours). */
export const EMBARGOED = ['pending', 'scheduled'] as const;

/** The SQL condition that a notification is not held back (`status` names the status column). */
export function notEmbargoed(status: string): string {
  return `coalesce(${ident(status)}, '') NOT IN (${EMBARGOED.map((s) => `'${s}'`).join(', ')})`;
}

/**
 * A recipient's inbox holds what was delivered (or tried): notifications still waiting for their
 * send time or for quiet hours to end are not shown before then. Holders of `<table>:all` see
 * every row.
 */
export class NotifyInbox implements CrudExtension {
  constructor(private readonly spec: { status: string }) {}

  begin({ ctx, unscoped, embedded }: CrudCall): CallScope {
    const all = unscoped || (!embedded && ctx?.ownerBypass === true);
    return {
      where: () => (all ? [] : [notEmbargoed(this.spec.status)]),
    };
  }
}

export const notifyInbox = (spec: { status: string }): NotifyInbox => new NotifyInbox(spec);
