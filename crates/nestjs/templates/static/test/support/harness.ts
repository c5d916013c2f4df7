import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import pg from 'pg';
import { defineSettings, presetEnv } from '../../src/core/config.js';

/**
 * The app under test: a database of its own made from db/*.sql (as `npm run migrate` does on an
 * empty one), the app connected as a role that owns nothing (row-level security applies, as in
 * production), made by the same `createApp` as `npm start` from a testing module
 * (`Test.createTestingModule({ imports: [AppModule] })`, so a test can replace providers) and
 * called through Fastify's `inject` (no port). TEST_DATABASE_URL names a server and a role that may create databases and
 * roles (e.g. postgres://postgres@localhost:5432/postgres); each test file gets its own database,
 * dropped afterwards.
 */
export interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Record<string, string | string[] | number | undefined>;
}

export interface Harness {
  app: NestFastifyApplication;
  /** The database as its owner (for setting up what the API does not offer). */
  owner: pg.Pool;
  /** Headers every request sends (features' sign-in sets `authorization`, ...). */
  headers: Record<string, string>;
  /** Run after a test user is made, before it signs in (features grant it what it needs). */
  onUser: ((userId: string) => Promise<void>)[];
  request(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
  close(): Promise<void>;
}

const testSettings = defineSettings('test', (env) => ({
  databaseUrl: env.required(
    'TEST_DATABASE_URL',
    'a PostgreSQL URL whose role may create databases and roles (postgres://postgres@localhost/postgres)',
  ),
}));

const random = (bytes: number) => randomBytes(bytes).toString('hex');

function withDatabase(url: string, database: string, user?: string, password?: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  if (user !== undefined) {
    u.username = user;
    u.password = password ?? '';
  }
  return u.toString();
}

/**
 * Start the app on a fresh database; `settings` are environment variables for this app;
 * `override` replaces providers of the testing module before it compiles, e.g.
 * `(m) => m.overrideProvider(MailService).useValue(fakeMail)`.
 */
export async function startApp(
  settings: Record<string, string> = {},
  override: (module: TestingModuleBuilder) => TestingModuleBuilder = (module) => module,
): Promise<Harness> {
  const adminUrl = testSettings().databaseUrl;
  const name = `test_${random(6)}`;
  const role = `${name}_app`;
  const password = random(18);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const owner = new pg.Pool({ connectionString: withDatabase(adminUrl, name), max: 2 });
  owner.on('error', () => undefined);
  const dropAll = async () => {
    await owner.end().catch(() => undefined);
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    // The app's last connections close as it shuts down: give them a moment before forcing.
    for (let i = 0; i < 40; i++) {
      const left = await c.query('SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity WHERE datname = $1', [name]);
      if (left.rows[0].n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await c.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await c.end();
  };
  try {
    for (const f of readdirSync('db')
      .filter((f) => f.endsWith('.sql'))
      .sort()) {
      await owner.query(readFileSync(`db/${f}`, 'utf8'));
    }
    await owner.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE`);
    await owner.query('SELECT nestgen.grant_app_role($1)', [role]);
    const env: Record<string, string> = {
      DATABASE_URL: withDatabase(adminUrl, name, role, password),
      RATE_LIMIT_PER_MINUTE: '0',
      ACCESS_LOG: 'false',
      LOG_LEVEL: 'warn',
      SWAGGER: 'true',
      AUTH_JWT_SECRET: random(32),
      AUTH_ENCRYPTION_KEY: random(32),
      MAIL_TRANSPORT: 'log',
      ...settings,
    };
    for (const [k, v] of Object.entries(env)) presetEnv(k, v);
    const { createApp } = await import('../../src/app.js');
    const { AppModule } = await import('../../src/app.module.js');
    const { loadConfig } = await import('../../src/core/config.js');
    const { AppLogger } = await import('../../src/core/logging/logger.js');
    const config = loadConfig();
    const logger = new AppLogger(config);
    const testing = await override(Test.createTestingModule({ imports: [AppModule] }))
      .setLogger(logger)
      .compile();
    const app = await createApp(config, logger, (adapter) => testing.createNestApplication<NestFastifyApplication>(adapter, { logger }));
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    const h: Harness = {
      app,
      owner,
      headers: {},
      onUser: [],
      async request(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
        const r = await app.inject({
          method: method as 'GET',
          url,
          headers: { ...h.headers, ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          payload: body === undefined ? undefined : JSON.stringify(body),
        });
        let parsed: unknown;
        try {
          parsed = r.body ? JSON.parse(r.body) : undefined;
        } catch {
          parsed = r.body;
        }
        return { status: r.statusCode, body: parsed, headers: r.headers as Answer['headers'] };
      },
      async close() {
        await app.close();
        await dropAll();
      },
    };
    return h;
  } catch (e) {
    await dropAll();
    throw e;
  }
}

/**
 * Insert a row into `schema.table` as the owner (setting up what the API does not offer):
 * `given` values, and every other column that needs one (NOT NULL, no default) filled with a
 * value of its type. Returns the row.
 */
export async function insertRow(
  h: Harness,
  schema: string,
  table: string,
  given: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const { rows } = await h.owner.query(
    `SELECT column_name AS name, data_type AS type, character_maximum_length AS max
       FROM information_schema.columns
      WHERE table_schema = $1 AND table_name = $2 AND is_nullable = 'NO' AND column_default IS NULL
        AND is_identity = 'NO' AND is_generated = 'NEVER'`,
    [schema, table],
  );
  const values: Record<string, unknown> = { ...given };
  const tag = random(4);
  for (const c of rows as { name: string; type: string; max: number | null }[]) {
    if (c.name in values) continue;
    if (/char|text/.test(c.type)) values[c.name] = `${c.name}-${tag}`.slice(0, c.max ?? 100);
    else if (/int|numeric|real|double/.test(c.type)) values[c.name] = 1;
    else if (c.type === 'boolean') values[c.name] = false;
    else if (c.type === 'uuid') values[c.name] = randomUUID();
    else if (/timestamp|date/.test(c.type)) values[c.name] = new Date();
    else if (/json/.test(c.type)) values[c.name] = {};
    else throw new Error(`insertRow: no value for ${table}.${c.name} (${c.type}): give one`);
  }
  const names = Object.keys(values);
  const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const sql =
    `INSERT INTO ${ident(schema)}.${ident(table)} (${names.map(ident).join(', ')}) ` +
    `VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING *`;
  return (await h.owner.query(sql, Object.values(values))).rows[0];
}
