import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import nodemailer, { type Transporter } from 'nodemailer';
import { appSettings } from '../config.js';
import { notifySettings } from './notify.settings.js';
import { unescapeHtml } from './render.js';

/** One notification, as a channel delivers it. */
export interface Outgoing {
  id: string;
  recipient: string;
  /** The recipient's address on this channel (email; a phone or device token for SMS and push). */
  address: string | null;
  title: string | null;
  /** HTML-escaped, rendered from the template. */
  message: string;
}

/** What a provider says about one attempt. */
export interface Delivered {
  provider: string;
  providerId: string | null;
}

/** A way to reach people. `send` throws when the provider refuses or cannot be reached. */
export interface NotificationChannel {
  readonly name: string;
  send(n: Outgoing): Promise<Delivered>;
}

/** Email over SMTP (NOTIFY_SMTP_URL, else SMTP_URL), from MAIL_FROM: the HTML body and its text. */
export class EmailChannel implements NotificationChannel, OnApplicationShutdown {
  readonly name = 'email';
  private readonly transport?: Transporter;
  private readonly from = notifySettings().mailFrom;
  private readonly logger = new Logger('Email');

  constructor() {
    const url = notifySettings().smtpUrl;
    if (url) this.transport = nodemailer.createTransport(url);
  }

  async send(n: Outgoing): Promise<Delivered> {
    if (!n.address) throw new Error('the recipient has no email address');
    if (!this.transport) {
      if (appSettings().production) throw new Error('no SMTP server: set SMTP_URL');
      this.logger.log(`to ${n.address}: ${n.title ?? ''}\n${unescapeHtml(n.message)}`);
      return { provider: 'log', providerId: null };
    }
    const info = await this.transport.sendMail({
      from: this.from,
      to: n.address,
      // The title is stored escaped like the message: the subject is its text.
      subject: unescapeHtml(n.title ?? ''),
      html: n.message,
      // The text part: the template's markup dropped, the variables' text as it was.
      text: unescapeHtml(n.message.replace(/<[^>]*>/g, '')),
      headers: { 'X-Notification-Id': n.id },
    });
    return { provider: 'smtp', providerId: typeof info.messageId === 'string' ? info.messageId : null };
  }

  onApplicationShutdown(): void {
    this.transport?.close();
  }
}

/** In the recipient's inbox (GET .../notifications): kept is delivered. */
export class InAppChannel implements NotificationChannel {
  readonly name = 'in-app';
  async send(): Promise<Delivered> {
    return { provider: 'in-app', providerId: null };
  }
}

/**
 * SMS and push have no provider built in: plug one in (Twilio, FCM, ...) by providing
 * NOTIFICATION_CHANNELS with your own channel of that name. Outside production, NOTIFY_SMS=log /
 * NOTIFY_PUSH=log write them to the log instead; otherwise a delivery fails (and is retried,
 * then parked as dead) so nothing is lost silently.
 */
export class UnconfiguredChannel implements NotificationChannel {
  private readonly logger = new Logger('Notify');
  constructor(readonly name: string) {}

  async send(n: Outgoing): Promise<Delivered> {
    const s = notifySettings();
    if (this.name === 'sms' ? s.logSms : this.name === 'push' ? s.logPush : false) {
      this.logger.log(`${this.name} to ${n.recipient}: ${n.title ?? ''} ${unescapeHtml(n.message)}`);
      return { provider: 'log', providerId: null };
    }
    throw new Error(`no ${this.name} provider configured (see src/core/notifications/channels.ts)`);
  }
}

export const NOTIFICATION_CHANNELS = Symbol('NOTIFICATION_CHANNELS');

@Injectable()
export class Channels {
  private readonly byName = new Map<string, NotificationChannel>();

  constructor(list: NotificationChannel[]) {
    for (const c of list) this.byName.set(c.name, c);
  }

  get(name: string): NotificationChannel | undefined {
    return this.byName.get(name);
  }
}

/** The default channels: email over SMTP, in-app, and SMS and push waiting for a provider. */
export function defaultChannels(): NotificationChannel[] {
  return [new EmailChannel(), new InAppChannel(), new UnconfiguredChannel('sms'), new UnconfiguredChannel('push')];
}
