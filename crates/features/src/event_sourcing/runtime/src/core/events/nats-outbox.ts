import { Logger } from '@nestjs/common';
import { type JetStreamClient, type NatsConnection, connect } from 'nats';
import { eventSettings } from './events.settings.js';
import type { Projection, StoredEvent } from './types.js';

/** A subject token: letters, digits, `_` and `-` only. */
function token(s: string | null): string {
  const t = (s ?? '').replace(/[^A-Za-z0-9_-]+/g, '_');
  return t || '_';
}

/**
 * The outbox to NATS JetStream, run as a processor: every event, after it commits, is published
 * to `<NATS_SUBJECT_PREFIX>.<aggregate type>.<event type>` with the event id as the message id, so
 * JetStream drops the second copy of an event published again (a crash after publishing and
 * before the checkpoint commits: at least once, de-duplicated within the stream's window). The
 * stream (NATS_STREAM, subjects `<prefix>.>`) is created when missing.
 */
export function natsOutbox(): Projection {
  const logger = new Logger('NatsOutbox');
  const { natsUrls: servers, natsSubjectPrefix, natsStream: streamName } = eventSettings();
  const prefix = token(natsSubjectPrefix);
  if (!servers.length) throw new Error('NATS_URL is not set: the event store publishes to NATS JetStream (nats://host:4222)');
  let nc: NatsConnection | undefined;
  let js: JetStreamClient | undefined;
  async function client(): Promise<JetStreamClient> {
    if (js && nc && !nc.isClosed()) return js;
    nc = await connect({ servers, name: 'event-outbox' });
    const jsm = await nc.jetstreamManager();
    try {
      await jsm.streams.info(streamName);
    } catch {
      await jsm.streams.add({ name: streamName, subjects: [`${prefix}.>`] });
      logger.log(`created JetStream stream ${streamName} (${prefix}.>)`);
    }
    js = nc.jetstream();
    return js;
  }
  return {
    name: 'nats-outbox',
    async handle(event: StoredEvent): Promise<void> {
      const subject = `${prefix}.${token(event.aggregateType)}.${token(event.type)}`;
      await (await client()).publish(subject, JSON.stringify(event), { msgID: event.id });
    },
    async reset(): Promise<void> {
      // Published messages stay published; a replay publishes again (the message ids de-duplicate
      // within the stream's duplicate window).
    },
  };
}
