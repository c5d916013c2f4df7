import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import nodemailer, { type Transporter } from 'nodemailer';
import { defineSettings } from '../config.js';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

/** Section `mail`: where mail goes and whom it is from. */
const mailSettings = defineSettings('mail', (env) => {
  const smtpUrl = env.url('SMTP_URL', ['smtp', 'smtps']);
  // Without SMTP, messages are written to the log: the default outside production only.
  const transport = env.oneOf('MAIL_TRANSPORT', ['smtp', 'log'], smtpUrl || env.production ? 'smtp' : 'log');
  if (transport === 'smtp' && !smtpUrl) {
    env.invalid(
      'SMTP_URL',
      'SMTP_URL is not set: the sign-in flows send verification and reset emails (set MAIL_TRANSPORT=log to write them to the log instead)',
    );
  }
  return { smtpUrl, from: env.text('MAIL_FROM', 'no-reply@localhost') };
});

/**
 * Outgoing mail (verification, password reset, invitations). SMTP when SMTP_URL is set
 * (`smtp://user:pass@host:587`, `smtps://...`); otherwise, outside production, each message is
 * written to the log so the flows work in development. In production without SMTP_URL the app
 * refuses to start (MAIL_TRANSPORT=log keeps logging anyway: tokens then end up in the logs).
 */
@Injectable()
export class MailService implements OnApplicationShutdown {
  private readonly logger = new Logger('Mail');
  private readonly transport?: Transporter;
  private readonly from = mailSettings().from;

  constructor() {
    const url = mailSettings().smtpUrl;
    if (url) this.transport = nodemailer.createTransport(url);
  }

  /** Send now; throws when the server refuses it. */
  async send(mail: Mail): Promise<void> {
    if (!this.transport) {
      this.logger.log(`to ${mail.to}: ${mail.subject}\n${mail.text}`);
      return;
    }
    await this.transport.sendMail({ from: this.from, to: mail.to, subject: mail.subject, text: mail.text });
  }

  /** Send without making the caller wait (or learn whether it worked); failures are logged. */
  sendLater(mail: Mail): void {
    this.send(mail).catch((e: unknown) =>
      this.logger.error(`could not send "${mail.subject}": ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  onApplicationShutdown(): void {
    this.transport?.close();
  }
}
