import { Module } from '@nestjs/common';
import { DatabaseModule } from '../database/database.module.js';
import { Channels, defaultChannels, NOTIFICATION_CHANNELS, type NotificationChannel } from './channels.js';
import { NotificationQueue } from './queue.js';
import { RealtimePublisher } from './realtime.js';

/** What `node dist/worker.js` runs: the database, the channels, the relay and the workers. */
@Module({
  imports: [DatabaseModule],
  providers: [
    { provide: NOTIFICATION_CHANNELS, useFactory: defaultChannels },
    { provide: Channels, useFactory: (list: NotificationChannel[]) => new Channels(list), inject: [NOTIFICATION_CHANNELS] },
    NotificationQueue,
    RealtimePublisher,
  ],
})
export class NotificationsWorkerModule {}
