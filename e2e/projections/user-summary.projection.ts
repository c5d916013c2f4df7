// The end-to-end suite's own user_summary projection (it replaces the generated one, which is the
// user's file): order totals are counted, so an event applied twice would show. A delay per event
// (E2E_PROJECTION_DELAY_MS) lets the suite kill a processor in the middle of a batch.
import type { Queryable } from '../../core/database/database.service.js';
import { isObject } from '../../core/events/merge-patch.js';
import type { Projection, StoredEvent } from '../../core/events/types.js';

export const projection: Projection = {
  name: 'user_summary',

  async handle(event: StoredEvent, db: Queryable): Promise<void> {
    const delay = Number(process.env.E2E_PROJECTION_DELAY_MS ?? 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (!isObject(event.data)) return;
    const d = event.data;
    switch (event.type) {
      case 'user.created':
        await db.query(
          'INSERT INTO user_summary (user_id, email, name, last_event_version) VALUES ($1::uuid, $2, $3, $4) ON CONFLICT (user_id) DO NOTHING',
          [event.aggregateId, d.email, d.name ?? null, event.version],
        );
        break;
      case 'user.renamed':
        await db.query('UPDATE user_summary SET name = $2, last_event_version = $3 WHERE user_id = $1::uuid', [event.aggregateId, d.name, event.version]);
        break;
      case 'order.placed':
        await db.query(
          'UPDATE user_summary SET total_orders = total_orders + 1, total_spent = total_spent + $2::numeric, last_order_at = $3::timestamptz AT TIME ZONE \'UTC\' WHERE user_id = $1::uuid',
          [d.userId, d.amount, event.occurredAt],
        );
        break;
    }
  },

  async reset(db: Queryable): Promise<void> {
    await db.query('DELETE FROM user_summary');
  },
};
