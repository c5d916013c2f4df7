// Notifications over HTTP (seed scenario 7), run by crates/cli/tests/e2e.rs::notifications_*: the
// API's workers are off and `node dist/worker.js` delivers through Redis to the SMTP sink
// (e2e/smtp-sink.mjs, messages in MAIL_DIR). Templates and variables, who may address whom,
// escaped email bodies, preferences (channel off, category off, security through), quiet hours
// delaying (not dropping), retries with backoff then dead (a refusing and a vanishing server),
// one delivery row per attempt, and the recipient's own routes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BASE, call, db, eventually, expectError, expectStatus } from './lib.mjs';

const MAIL_DIR = process.env.MAIL_DIR;
const PASSWORD = 'notify password 123';
let sql;
const user = {};
const tok = {};
const as = (who) => ({ headers: { authorization: `Bearer ${tok[who]}` } });

/** Notification emails the sink received for `address` (not the sign-up confirmations). */
function mailsTo(address) {
  if (!existsSync(MAIL_DIR)) return [];
  return readdirSync(MAIL_DIR)
    .sort()
    .map((f) => readFileSync(join(MAIL_DIR, f), 'utf8'))
    .filter((m) => new RegExp(`^X-Sink-To: .*${address.replace(/[+.]/g, '\\$&')}`, 'm').test(m) && /^X-Notification-Id: /im.test(m));
}

const row = async (id) =>
  (await sql.query('SELECT status, retry_count, failed_reason, sent_at, read_at FROM notifications WHERE id = $1', [id])).rows[0];
const settled = (id, status) =>
  eventually(`notification ${id} ${status}`, async () => ((await row(id))?.status === status ? row(id) : undefined));

before(async () => {
  sql = await db();
  for (const [who, role] of [
    ['admin', 'admin'],
    ['alice', 'user'],
    ['bob', 'user'],
    ['carol', 'user'],
    ['dora+refuse', 'user'],
    ['dan+down', 'user'],
    ['eve+slow', 'user'],
    ['finn+slow', 'user'],
    ['gina', 'user'],
    ['hal', 'user'],
  ]) {
    const email = `${who}@notify.io`;
    const name = who.split('+')[0];
    user[name] = expectStatus(await call('POST', '/auth/register', { email, password: PASSWORD, name }), 201, `register ${who}`).body.data;
    user[name].email = email;
    // Email goes to confirmed addresses only: everyone's is confirmed but gina's.
    if (name !== 'gina') await sql.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [user[name].id]);
    await sql.query('INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE slug = $2', [user[name].id, role]);
    tok[name] = expectStatus(await call('POST', '/auth/login', { email, password: PASSWORD }), 200, `login ${who}`).body.accessToken;
  }
  await sql.query(
    `INSERT INTO notification_templates (name, type, subject, body_template) VALUES
       ('welcome', 'email', 'Welcome, {{name}}', '<p>Hello {{name}}, your code is <b>{{code}}</b>.</p>'),
       ('note', 'in-app', NULL, 'Note: {{text}}'),
       ('orders', 'email', 'Your orders', '{{#each items}}<li>{{this.title}}</li>{{/each}} from {{shop}}')`,
  );
});

const workers = [];
after(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await sql?.end();
});

test('a template names what it needs: a missing variable is 400, an unknown template 404', async () => {
  expectError(
    await call('POST', '/notifications/notify', { template: 'welcome', to: [user.alice.id], variables: { name: 'A' } }, as('admin')),
    400,
    'code missing',
  );
  const r = await call('POST', '/notifications/notify', { template: 'orders', to: [user.alice.id], variables: { items: [] } }, as('admin'));
  expectError(r, 400, 'shop missing');
  assert.match(r.body.message, /"shop"/);
  assert.doesNotMatch(r.body.message, /"title"|"this"/, 'names inside #each are the items’, not the caller’s');
  expectError(
    await call('POST', '/notifications/notify', { template: 'nope', to: [user.alice.id], variables: {} }, as('admin')),
    404,
    'unknown template',
  );
  expectError(
    await call(
      'POST',
      '/notifications/notify',
      { template: 'note', to: ['00000000-0000-0000-0000-000000000000'], variables: { text: 'x' } },
      as('admin'),
    ),
    400,
    'unknown recipient',
  );
  expectError(
    await call(
      'POST',
      '/notifications/notify',
      { template: 'note', to: [user.alice.id], variables: { text: 'x' }, channel: 'fax' },
      as('admin'),
    ),
    400,
    'unknown channel',
  );
});

test('who may address whom: yourself always, others with notifications:send', async () => {
  expectError(
    await call('POST', '/notifications/notify', { template: 'note', to: [user.bob.id], variables: { text: 'hi bob' } }, as('alice')),
    403,
    'alice to bob',
  );
  const mine = expectStatus(
    await call('POST', '/notifications/notify', { template: 'note', to: [user.alice.id], variables: { text: 'to myself' } }, as('alice')),
    201,
    'alice to alice',
  ).body.data;
  assert.equal(mine.length, 1);
  const s = await settled(mine[0].id, 'sent');
  assert.ok(s.sent_at);
  expectError(
    await call(
      'POST',
      '/notifications/notify',
      { template: 'note', to: [user.alice.id], variables: { text: 'x' }, priority: 2 },
      as('alice'),
    ),
    403,
    'urgent needs the send permission',
  );
  expectError(
    await call(
      'POST',
      '/notifications/notify',
      { template: 'note', to: [user.alice.id], variables: { text: 'x' }, category: 'security' },
      as('alice'),
    ),
    403,
    'security needs it too',
  );
  // Templates speak in the app's name; delivery records name addresses: neither is a user's.
  expectError(
    await call(
      'POST',
      '/notification-templates',
      { name: 'phish', type: 'email', bodyTemplate: '<a href="https://evil.example">unlock</a>' },
      as('alice'),
    ),
    403,
    'a user writes a template',
  );
  expectError(await call('GET', '/notification-deliveries', undefined, as('alice')), 403, 'a user reads delivery records');
  // A client cannot write a notification row of its own, nor its status.
  assert.equal((await call('POST', '/notifications', { userId: user.bob.id, type: 'in-app', message: 'forged' }, as('alice'))).status, 404);
  expectError(await call('PATCH', `/notifications/${mine[0].id}`, { status: 'read' }, as('alice')), 404, 'no update route');
});

test('email: rendered, HTML escaped, delivered by the worker, one delivery row', async () => {
  const sent = expectStatus(
    await call(
      'POST',
      '/notifications/notify',
      { template: 'welcome', to: [user.alice.id], variables: { name: '<script>alert(1)</script>', code: '12&34' } },
      as('admin'),
    ),
    201,
    'send',
  ).body.data;
  await settled(sent[0].id, 'sent');
  const mail = await eventually('the email', () =>
    mailsTo(user.alice.email).find((m) => m.includes('12&amp;34') || m.includes('12&amp=\r\n;34')),
  );
  assert.ok(mail.includes('&lt;script&gt;'), 'the variable is escaped in the HTML body');
  assert.ok(!/<script>alert/.test(mail.split('text/html')[1] ?? ''), 'no raw script in the HTML part');
  assert.match(
    mail.split('text/html')[0],
    /Hello <script>alert\(1\)<\/script>, your code is 12&34\./,
    'the text part: the words, no markup',
  );
  assert.match(mail, /Subject: Welcome, <script>alert\(1\)<\/script>|Subject: =\?/, 'the subject is text');
  const api = expectStatus(await call('GET', `/notifications/${sent[0].id}`, undefined, as('alice')), 200, 'alice reads it').body.data;
  assert.equal(api.title, 'Welcome, &lt;script&gt;alert(1)&lt;/script&gt;', 'the title is escaped like the message');
  // An address nobody confirmed gets nothing.
  const [g] = expectStatus(
    await call(
      'POST',
      '/notifications/notify',
      { template: 'welcome', to: [user.gina.id], variables: { name: 'G', code: 'x' } },
      as('admin'),
    ),
    201,
    'to gina',
  ).body.data;
  assert.match((await settled(g.id, 'skipped')).failed_reason, /no confirmed email address/);
  assert.equal(mailsTo(user.gina.email).length, 0);
  const deliveries = (
    await sql.query('SELECT status, provider, provider_message_id FROM notification_deliveries WHERE notification_id = $1', [sent[0].id])
  ).rows;
  assert.equal(deliveries.length, 1);
  assert.equal(deliveries[0].status, 'delivered');
  assert.equal(deliveries[0].provider, 'smtp');
  assert.ok(deliveries[0].provider_message_id);
});

test('preferences: a channel off or a category off skips; security goes through', async () => {
  expectStatus(
    await call(
      'POST',
      '/notification-preferences',
      { emailEnabled: false, preferences: { marketing: { email: false }, updates: { email: true } } },
      as('bob'),
    ),
    201,
    'bob turns email off',
  );
  const send = async (category) =>
    expectStatus(
      await call(
        'POST',
        '/notifications/notify',
        { template: 'welcome', to: [user.bob.id], variables: { name: 'Bob', code: category }, category },
        as('admin'),
      ),
      201,
      category,
    ).body.data[0].id;
  const updates = await send('updates');
  const skipped = await settled(updates, 'skipped');
  assert.match(skipped.failed_reason, /turned email notifications off/);
  const security = await send('security');
  await settled(security, 'sent');
  await eventually('the security email', () => mailsTo(user.bob.email).find((m) => m.includes('security')));
  assert.equal(mailsTo(user.bob.email).length, 1, 'only the security email reached bob');
  // Email back on, marketing still off.
  await sql.query('UPDATE notification_preferences SET email_enabled = true WHERE user_id = $1', [user.bob.id]);
  const marketing = await settled(await send('marketing'), 'skipped');
  assert.match(marketing.failed_reason, /opted out of marketing/);
});

test('quiet hours delay a notification to their end, in the recipient’s time zone; urgent ones go through', async () => {
  // Quiet now, until the next whole minute in Asia/Kolkata (UTC+05:30).
  const local = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Kolkata', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(
    new Date(),
  );
  const [h, m] = local.split(':').map(Number);
  const hhmm = (mins) =>
    `${String(Math.floor(((mins + 1440) % 1440) / 60)).padStart(2, '0')}:${String((mins + 1440) % 60).padStart(2, '0')}`;
  const now = h * 60 + m;
  await sql.query(
    'INSERT INTO notification_preferences (user_id, quiet_hours_start, quiet_hours_end, quiet_hours_timezone) VALUES ($1, $2, $3, $4)',
    [user.carol.id, hhmm(now - 30), hhmm(now + 1), 'Asia/Kolkata'],
  );
  const sentAt = Date.now();
  const [quiet] = expectStatus(
    await call(
      'POST',
      '/notifications/notify',
      { template: 'welcome', to: [user.carol.id], variables: { name: 'Carol', code: 'quiet' } },
      as('admin'),
    ),
    201,
    'quiet',
  ).body.data;
  const [urgent] = expectStatus(
    await call(
      'POST',
      '/notifications/notify',
      { template: 'welcome', to: [user.carol.id], variables: { name: 'Carol', code: 'urgent' }, priority: 2 },
      as('admin'),
    ),
    201,
    'urgent',
  ).body.data;
  const [security] = expectStatus(
    await call(
      'POST',
      '/notifications/notify',
      { template: 'welcome', to: [user.carol.id], variables: { name: 'Carol', code: 'security' }, category: 'security' },
      as('admin'),
    ),
    201,
    'security',
  ).body.data;
  await settled(urgent.id, 'sent');
  await settled(security.id, 'sent');
  await settled(quiet.id, 'scheduled');
  assert.equal(mailsTo(user.carol.email).filter((x) => x.includes('quiet')).length, 0, 'not during quiet hours');
  const done = await eventually(
    'the quiet one, after quiet hours',
    async () => ((await row(quiet.id)).status === 'sent' ? row(quiet.id) : undefined),
    75_000,
  );
  assert.ok(new Date(done.sent_at).getTime() > sentAt, 'sent after');
  await eventually('its email', () => mailsTo(user.carol.email).find((x) => x.includes('quiet')));
  const deliveries = (await sql.query('SELECT count(*)::int AS n FROM notification_deliveries WHERE notification_id = $1', [quiet.id]))
    .rows[0].n;
  assert.equal(deliveries, 1, 'the delay was no attempt');
});

test('a refusing or vanishing mail server: retried with backoff, every attempt recorded, then dead', async () => {
  for (const who of ['dora', 'dan']) {
    const [n] = expectStatus(
      await call(
        'POST',
        '/notifications/notify',
        { template: 'welcome', to: [user[who].id], variables: { name: who, code: 'x' } },
        as('admin'),
      ),
      201,
      who,
    ).body.data;
    const dead = await settled(n.id, 'dead');
    assert.equal(dead.retry_count, 3, 'NOTIFY_ATTEMPTS=3');
    assert.ok(dead.failed_reason, 'why');
    const attempts = (
      await sql.query(
        'SELECT status, error_message, created_at FROM notification_deliveries WHERE notification_id = $1 ORDER BY created_at',
        [n.id],
      )
    ).rows;
    assert.equal(attempts.length, 3);
    assert.ok(attempts.every((a) => a.status === 'failed' && a.error_message));
    // Backoff: the gaps grow (200 ms, then 400 ms).
    const gaps = attempts.slice(1).map((a, i) => new Date(a.created_at) - new Date(attempts[i].created_at));
    assert.ok(gaps[0] >= 150 && gaps[1] >= gaps[0], `gaps ${gaps}`);
    if (who === 'dora') assert.match(dead.failed_reason, /550/);
  }
  // Dead ones are visible through the API, to their recipient.
  const mine = expectStatus(await call('GET', '/notifications?status=eq.dead', undefined, as('dora')), 200, 'dora’s dead').body.data;
  assert.equal(mine.length, 1);
  assert.equal(
    (await sql.query('SELECT count(*)::int AS n FROM nestgen.notification_outbox WHERE notification_id = $1', [mine[0].id])).rows[0].n,
    0,
    'settled: out of the outbox',
  );
});

test('scheduled sends wait for sendAt; what expires first is never delivered', async () => {
  const at = new Date(Date.now() + 2500);
  const [later] = expectStatus(
    await call(
      'POST',
      '/notifications/notify',
      { template: 'note', to: [user.alice.id], variables: { text: 'later' }, sendAt: at.toISOString() },
      as('admin'),
    ),
    201,
    'scheduled',
  ).body.data;
  const [never] = expectStatus(
    await call(
      'POST',
      '/notifications/notify',
      {
        template: 'note',
        to: [user.alice.id],
        variables: { text: 'too late' },
        sendAt: at.toISOString(),
        expiresAt: new Date(Date.now() + 1000).toISOString(),
      },
      as('admin'),
    ),
    201,
    'expiring',
  ).body.data;
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal((await row(later.id)).status, 'pending', 'not before sendAt');
  expectError(await call('GET', `/notifications/${later.id}`, undefined, as('alice')), 404, 'not shown before its time');
  const early = expectStatus(await call('GET', '/notifications?limit=100', undefined, as('alice')), 200, 'inbox').body.data;
  assert.ok(!early.some((x) => x.id === later.id), 'nor listed');
  await settled(later.id, 'sent');
  // sent_at is a timestamp without time zone, written in UTC by the app.
  const ms = Number(
    (await sql.query('SELECT (extract(epoch FROM sent_at) * 1000)::bigint AS ms FROM notifications WHERE id = $1', [later.id])).rows[0].ms,
  );
  assert.ok(ms >= at.getTime() - 50, `sent ${at.getTime() - ms} ms before sendAt`);
  expectStatus(await call('GET', `/notifications/${later.id}`, undefined, as('alice')), 200, 'shown once sent');
  const expired = await settled(never.id, 'expired');
  assert.match(expired.failed_reason, /expired/);
  assert.equal(
    (await sql.query('SELECT count(*)::int AS n FROM notification_deliveries WHERE notification_id = $1', [never.id])).rows[0].n,
    0,
    'no attempt',
  );
  expectError(
    await call(
      'POST',
      '/notifications/notify',
      { template: 'note', to: [user.alice.id], variables: { text: 'x' }, expiresAt: new Date(Date.now() - 1000).toISOString() },
      as('admin'),
    ),
    400,
    'already expired',
  );
});

test('priority: while the worker is busy, an urgent notification goes before normal ones sent earlier', async () => {
  // NOTIFY_CONCURRENCY=1: the slow email holds the worker for 3 s while the others queue.
  const [slow] = expectStatus(
    await call(
      'POST',
      '/notifications/notify',
      { template: 'welcome', to: [user.finn.id], variables: { name: 'Finn', code: 'busy' } },
      as('admin'),
    ),
    201,
    'slow',
  ).body.data;
  await eventually(
    'the worker busy',
    async () =>
      (await sql.query("SELECT 1 FROM notification_deliveries WHERE notification_id = $1 AND status = 'sending'", [slow.id])).rowCount ===
      1,
  );
  const send = async (priority) =>
    expectStatus(
      await call(
        'POST',
        '/notifications/notify',
        { template: 'note', to: [user.dan.id], variables: { text: `p${priority}` }, priority },
        as('admin'),
      ),
      201,
      `p${priority}`,
    ).body.data[0].id;
  const normal = [await send(0), await send(0)];
  const urgent = await send(2);
  for (const id of [...normal, urgent]) await settled(id, 'sent');
  const at = async (id) =>
    Number(
      (await sql.query('SELECT (extract(epoch FROM sent_at) * 1000000)::bigint AS us FROM notifications WHERE id = $1', [id])).rows[0].us,
    );
  const u = await at(urgent);
  for (const id of normal) assert.ok(u < (await at(id)), 'the urgent one was delivered first');
  await settled(slow.id, 'sent');
});

test('a crash between the commit and the queue loses nothing: the relay hands over what the outbox holds', async () => {
  // As the API leaves it when it dies right after its transaction commits: the row and its
  // outbox entry, nothing in Redis.
  const id = (
    await sql.query(
      "INSERT INTO notifications (user_id, type, message, status) VALUES ($1, 'in-app', 'from before the crash', 'pending') RETURNING id",
      [user.dan.id],
    )
  ).rows[0].id;
  await sql.query("INSERT INTO nestgen.notification_outbox (notification_id, system) VALUES ($1, 'notifications')", [id]);
  await settled(id, 'sent');
  assert.equal(
    (await sql.query('SELECT count(*)::int AS n FROM nestgen.notification_outbox WHERE notification_id = $1', [id])).rows[0].n,
    0,
  );
});

test('SMS and push are provider interfaces: the log double delivers SMS; push without a provider ends dead, not lost', async () => {
  const send = async (channel) =>
    // dan has no preferences (bob's row turns SMS off, the seed's default).
    expectStatus(
      await call(
        'POST',
        '/notifications/notify',
        { template: 'note', to: [user.dan.id], variables: { text: channel }, channel },
        as('admin'),
      ),
      201,
      channel,
    ).body.data[0].id;
  const sms = await send('sms');
  await settled(sms, 'sent');
  const d = (await sql.query('SELECT status, provider FROM notification_deliveries WHERE notification_id = $1', [sms])).rows;
  assert.deepEqual(d, [{ status: 'delivered', provider: 'log' }]);
  const push = await send('push');
  const dead = await settled(push, 'dead');
  assert.match(dead.failed_reason, /no push provider configured/);
});

test('the recipient’s own: list, unread count, mark read, mark all read, delete; never another user’s', async () => {
  const [a, b] = await Promise.all(
    [1, 2].map(
      async (i) =>
        expectStatus(
          await call('POST', '/notifications/notify', { template: 'note', to: [user.alice.id], variables: { text: `n${i}` } }, as('admin')),
          201,
          'note',
        ).body.data[0],
    ),
  );
  await settled(a.id, 'sent');
  await settled(b.id, 'sent');
  const unread = expectStatus(await call('GET', '/notifications/unread-count', undefined, as('alice')), 200, 'count').body.count;
  assert.ok(unread >= 2);
  const list = expectStatus(await call('GET', '/notifications?readAt=is.null&limit=100', undefined, as('alice')), 200, 'list').body.data;
  assert.ok(list.some((n) => n.id === a.id) && list.every((n) => n.userId === user.alice.id));
  // bob: none of alice's.
  expectError(await call('GET', `/notifications/${a.id}`, undefined, as('bob')), 404, 'bob reads alice’s');
  expectError(await call('POST', `/notifications/${a.id}/read`, undefined, as('bob')), 404, 'bob marks alice’s');
  expectError(await call('DELETE', `/notifications/${a.id}`, undefined, as('bob')), 404, 'bob deletes alice’s');
  const bobs = expectStatus(await call('GET', '/notifications?limit=100', undefined, as('bob')), 200, 'bob’s').body.data;
  assert.ok(bobs.every((n) => n.userId === user.bob.id));
  expectStatus(await call('POST', '/notifications/read-all', undefined, as('bob')), 200, 'bob marks all his');
  assert.equal((await row(a.id)).read_at, null, 'bob’s read-all left alice’s alone');
  // alice marks one, then all.
  const read = expectStatus(await call('POST', `/notifications/${a.id}/read`, undefined, as('alice')), 200, 'read').body.data;
  assert.ok(read.readAt);
  assert.equal(expectStatus(await call('GET', '/notifications/unread-count', undefined, as('alice')), 200, 'count').body.count, unread - 1);
  const all = expectStatus(await call('POST', '/notifications/read-all', undefined, as('alice')), 200, 'read all').body.count;
  assert.equal(all, unread - 1);
  assert.equal(expectStatus(await call('GET', '/notifications/unread-count', undefined, as('alice')), 200, 'count').body.count, 0);
  assert.equal((await call('DELETE', `/notifications/${b.id}`, undefined, as('alice'))).status, 204);
});

test('realtime: a signed-in socket receives its own in-app notifications within a second, never another’s; missed ones on reconnect', async () => {
  const { io } = await import('socket.io-client');
  const connect = (auth) =>
    new Promise((resolve, reject) => {
      const s = io(BASE, { path: '/realtime', transports: ['websocket'], auth, reconnection: false, timeout: 5000 });
      s.on('connect', () => resolve(s));
      s.on('connect_error', (e) => {
        s.close();
        reject(e);
      });
    });
  await assert.rejects(connect({}), /unauthorized/, 'no token');
  await assert.rejects(connect({ token: 'not.a.token' }), /unauthorized/, 'a bad token');
  const alice = await connect({ token: tok.alice });
  const bob = await connect({ token: tok.bob });
  const got = { alice: [], bob: [] };
  alice.on('notification', (n) => got.alice.push({ n, at: Date.now() }));
  bob.on('notification', (n) => got.bob.push({ n, at: Date.now() }));
  try {
    const t0 = Date.now();
    const [sent] = expectStatus(
      await call('POST', '/notifications/notify', { template: 'note', to: [user.alice.id], variables: { text: '<live>' } }, as('admin')),
      201,
      'live',
    ).body.data;
    const first = await eventually('alice’s socket', () => got.alice.find((x) => x.n.id === sent.id), 5000);
    assert.ok(first.at - t0 < 1000, `delivered in ${first.at - t0} ms`);
    assert.equal(first.n.message, 'Note: &lt;live&gt;');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(got.bob.length, 0, 'bob received nothing of alice’s');
  } finally {
    alice.close();
    bob.close();
  }
  // A socket lives with its session: a password change closes it before anything more arrives.
  const hal = await connect({ token: tok.hal });
  const halGot = [];
  hal.on('notification', (n) => halGot.push(n));
  const closed = new Promise((r) => hal.on('disconnect', r));
  expectStatus(
    await call('POST', '/auth/password/change', { currentPassword: PASSWORD, newPassword: `${PASSWORD} changed` }, as('hal')),
    204,
    'hal changes password',
  );
  const [toHal] = expectStatus(
    await call(
      'POST',
      '/notifications/notify',
      { template: 'note', to: [user.hal.id], variables: { text: 'after the change' } },
      as('admin'),
    ),
    201,
    'to hal',
  ).body.data;
  await settled(toHal.id, 'sent');
  await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('hal’s socket stayed open')), 5000))]);
  assert.equal(halGot.length, 0, 'nothing reached the old session');
  hal.close();
  // Offline: the notification waits in the inbox; on reconnect with `since`, it is replayed.
  const since = new Date(Date.now() - 1000).toISOString();
  const [missed] = expectStatus(
    await call('POST', '/notifications/notify', { template: 'note', to: [user.alice.id], variables: { text: 'while away' } }, as('admin')),
    201,
    'missed',
  ).body.data;
  await settled(missed.id, 'sent');
  const seen = [];
  const back = await new Promise((resolve, reject) => {
    const s = io(BASE, { path: '/realtime', transports: ['websocket'], auth: { token: tok.alice, since }, reconnection: false });
    s.on('notification', (n) => seen.push(n));
    s.on('connect', () => resolve(s));
    s.on('connect_error', reject);
  });
  try {
    await eventually('the missed one', () => seen.find((n) => n.id === missed.id), 5000);
    assert.ok(seen.every((n) => n.id !== undefined));
  } finally {
    back.close();
  }
});

test('a worker killed in the middle of a delivery: another retries the job, the email is sent once, every attempt is on record', async () => {
  const [n] = expectStatus(
    await call(
      'POST',
      '/notifications/notify',
      { template: 'welcome', to: [user.eve.id], variables: { name: 'Eve', code: 'slow' } },
      as('admin'),
    ),
    201,
    'to eve',
  ).body.data;
  // The worker is waiting for the (slow) mail server to accept the message: kill it there.
  await eventually(
    'the attempt under way',
    async () =>
      (await sql.query("SELECT 1 FROM notification_deliveries WHERE notification_id = $1 AND status = 'sending'", [n.id])).rowCount === 1,
  );
  process.kill(Number(process.env.WORKER_PID), 'SIGKILL');
  const w = spawn('node', ['dist/worker.js'], {
    cwd: process.env.PROJECT_DIR,
    env: { ...process.env, ...JSON.parse(process.env.WORKER_ENV) },
    stdio: 'ignore',
  });
  workers.push(w);
  const sent = await settled(n.id, 'sent').catch(async () =>
    eventually('sent by the new worker', async () => ((await row(n.id)).status === 'sent' ? row(n.id) : undefined), 30_000),
  );
  assert.ok(sent.sent_at);
  await eventually('the email', () => mailsTo(user.eve.email).length === 1);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(mailsTo(user.eve.email).length, 1, 'sent once: the killed attempt sent nothing');
  const attempts = (
    await sql.query('SELECT status FROM notification_deliveries WHERE notification_id = $1 ORDER BY created_at', [n.id])
  ).rows.map((r) => r.status);
  assert.deepEqual(attempts, ['interrupted', 'delivered']);
});
