import { Global, Module } from '@nestjs/common';
import { EventProcessors } from './event-processors.js';
import { EventStore } from './event-store.js';

/** The event store and its processors (routes: the events resource's stream controller). */
@Global()
@Module({
  providers: [EventStore, EventProcessors],
  exports: [EventStore, EventProcessors],
})
export class EventStoreModule {}
