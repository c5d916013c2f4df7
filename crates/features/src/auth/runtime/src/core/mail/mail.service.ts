import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import nodemailer, { type Transporter } from 'nodemailer';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

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
  private readonly from = process.env.MAIL_FROM || 'no-reply@localhost';

  constructor() {
    const url = process.env.SMTP_URL;
    if (url) {
      this.transport = nodemailer.createTransport(url);
    } else if (process.env.NODE_ENV === 'production' && process.env.MAIL_TRANSPORT !== 'log') {
      throw new Error('SMTP_URL is not set: the sign-in flows send verification and reset emails (set MAIL_TRANSPORT=log to write them to the log instead)');
    }
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
    this.send(mail).catch((e: unknown) => this.logger.error(`could not send "${mail.subject}": ${e instanceof Error ? e.message : String(e)}`));
  }

  onApplicationShutdown(): void {
    this.transport?.close();
  }
}
