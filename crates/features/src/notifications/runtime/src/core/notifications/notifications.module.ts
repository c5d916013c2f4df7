import { Global, Module } from '@nestjs/common';
import { Channels, defaultChannels, NOTIFICATION_CHANNELS, type NotificationChannel } from './channels.js';
import { NotificationQueue } from './queue.js';
import { RealtimeGateway, RealtimePublisher } from './realtime.js';
import { NotificationSender } from './sender.js';

/**
 * Notifications: the sender the notification controllers use, the relay from the outbox to the
 * queue, and (NOTIFY_WORKER=on) the workers. Replace NOTIFICATION_CHANNELS to plug in SMS or push
 * providers.
 */
@Global()
@Module({
  providers: [
    { provide: NOTIFICATION_CHANNELS, useFactory: defaultChannels },
    { provide: Channels, useFactory: (list: NotificationChannel[]) => new Channels(list), inject: [NOTIFICATION_CHANNELS] },
    NotificationQueue,
    NotificationSender,
    RealtimePublisher,
    RealtimeGateway,
  ],
  exports: [NotificationSender, NotificationQueue],
})
export class NotificationsModule {}
