import { appSettings, defineSettings } from '../config.js';

/** Section `notifications`: the queue, its workers, the channels and realtime sockets. */
export const notifySettings = defineSettings('notifications', (env) => {
  if (!appSettings().redisUrl && !env.get('REDIS_URL')) {
    env.invalid('REDIS_URL', 'REDIS_URL is not set: notifications are delivered through a queue in Redis (redis://host:6379)');
  }
  // Channels without a provider: outside production, `log` writes their messages to the log.
  const logged = (name: string) => env.oneOf(name, ['log', 'off'], 'off') === 'log' && !env.production;
  return {
    /** Work jobs in this instance (`node dist/worker.js` always does). */
    worker: env.oneOf('NOTIFY_WORKER', ['on', 'off'], 'on') === 'on',
    attempts: env.int('NOTIFY_ATTEMPTS', 5, 1, 100),
    backoffMs: env.int('NOTIFY_BACKOFF_MS', 2000, 1, 86_400_000),
    relayMs: env.int('NOTIFY_RELAY_MS', 1000, 50, 600_000),
    requeueSeconds: env.int('NOTIFY_REQUEUE_SECONDS', 600, 10, 86_400),
    concurrency: env.int('NOTIFY_CONCURRENCY', 5, 1, 1000),
    /** A worker that stops answering (killed, frozen) loses its job after this long; another retries it. */
    lockMs: env.int('NOTIFY_LOCK_MS', 30_000, 500, 600_000),
    /** Handshakes one address may make a minute, and sockets one user may hold at once. */
    socketsPerMinute: env.int('NOTIFY_SOCKETS_PER_MINUTE', 60, 1, 1_000_000),
    socketsPerUser: env.int('NOTIFY_SOCKETS_PER_USER', 5, 1, 1000),
    smtpUrl: env.url('NOTIFY_SMTP_URL', ['smtp', 'smtps']) ?? env.url('SMTP_URL', ['smtp', 'smtps']),
    mailFrom: env.text('MAIL_FROM', 'no-reply@localhost'),
    logSms: logged('NOTIFY_SMS'),
    logPush: logged('NOTIFY_PUSH'),
  };
});
