// `npm run migrate`: brings the database to this project's schema, as the role that owns it
// (MIGRATE_DATABASE_URL, else DATABASE_URL; `.env` is read).
//
// - An empty database gets every db/*.sql file in name order (the schema and the features' SQL);
//   the files in db/migrations are recorded as applied, since the schema already holds them.
// - A database that has the schema gets each db/migrations/*.sql file it has not had, in name
//   order (`nest-generator sql migrate --out db/migrations` writes them), then the features'
//   db/*.sql files again (they can run any number of times: new tables get their triggers,
//   policies and grants).
//
// Everything runs in one transaction under an advisory lock: a failure changes nothing, and two
// deploys cannot run it at once. Applied migrations are recorded in nestgen.schema_migrations
// with their SHA-256; a recorded file that changed since is refused. APP_ROLE, when set, is the
// app's runtime role, granted what it needs afterwards (nestgen.grant_app_role), and created
// first with APP_ROLE_PASSWORD when it does not exist. `--dry-run` says what would run and
// changes nothing.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

try {
  process.loadEnvFile('.env');
} catch (e) {
  if (e.code !== 'ENOENT') throw e;
}
const dryRun = process.argv.includes('--dry-run');
const url = process.env.MIGRATE_DATABASE_URL || process.env.DATABASE_URL;
if (!url) {
  console.error('MIGRATE_DATABASE_URL (or DATABASE_URL) is not set: the database to migrate, as the role that owns its tables');
  process.exit(1);
}
const appRole = process.env.APP_ROLE || undefined;

const sqlFiles = (dir) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.sql'))
        .sort()
    : [];
const read = (path) => readFileSync(path, 'utf8');
const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const base = sqlFiles('db');
const migrations = sqlFiles('db/migrations');

const client = new pg.Client({ connectionString: url, application_name: 'nest-migrate' });
await client.connect();
const done = [];
try {
  await client.query('BEGIN');
  await client.query("SELECT pg_advisory_xact_lock(hashtext('nestgen.migrate'))");
  await client.query('CREATE SCHEMA IF NOT EXISTS nestgen');
  await client.query(
    'CREATE TABLE IF NOT EXISTS nestgen.schema_migrations (name text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  const applied = new Map((await client.query('SELECT name, sha256 FROM nestgen.schema_migrations')).rows.map((r) => [r.name, r.sha256]));
  // Whether the schema is there: its first table exists (or migrations were recorded).
  const first = /CREATE TABLE\s+(?:IF NOT EXISTS\s+)?([^\s(]+)/i.exec(existsSync('db/01-schema.sql') ? read('db/01-schema.sql') : '')?.[1];
  const installed =
    applied.size > 0 || (first !== undefined && (await client.query('SELECT to_regclass($1) IS NOT NULL AS ok', [first])).rows[0].ok);
  const run = async (path) => {
    done.push(path);
    if (!dryRun) await client.query(read(path));
  };
  const record = (name) =>
    client.query('INSERT INTO nestgen.schema_migrations (name, sha256) VALUES ($1, $2)', [name, sha256(read(`db/migrations/${name}`))]);
  if (!installed) {
    for (const f of base) await run(`db/${f}`);
    for (const m of migrations) await record(m);
  } else {
    const changed = migrations.filter((m) => applied.has(m) && applied.get(m) !== sha256(read(`db/migrations/${m}`)));
    if (changed.length) {
      throw new Error(`already applied, and changed since: ${changed.join(', ')} (write a new migration instead)`);
    }
    for (const m of migrations.filter((m) => !applied.has(m))) {
      await run(`db/migrations/${m}`);
      await record(m);
    }
    for (const f of base.filter((f) => f !== '01-schema.sql')) await run(`db/${f}`);
  }
  // The app's role, made when missing and a password is given (compose.yaml does).
  if (appRole && process.env.APP_ROLE_PASSWORD) {
    const exists = (await client.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [appRole])).rowCount > 0;
    if (!exists) {
      done.push(`role ${appRole}`);
      const role = client.escapeIdentifier(appRole);
      const password = client.escapeLiteral(process.env.APP_ROLE_PASSWORD);
      if (!dryRun) await client.query(`CREATE ROLE ${role} LOGIN PASSWORD ${password} NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE`);
    }
  }
  if (appRole) {
    done.push(`grant_app_role(${appRole})`);
    if (!dryRun) await client.query('SELECT nestgen.grant_app_role($1)', [appRole]);
  }
  await client.query(dryRun ? 'ROLLBACK' : 'COMMIT');
  const what = installed ? 'migrated' : 'installed';
  console.log(`${dryRun ? 'would run' : what}: ${done.length ? done.join(', ') : 'nothing'}`);
} catch (e) {
  await client.query('ROLLBACK').catch(() => undefined);
  console.error(`migration failed${done.length ? ` in ${done.at(-1)}` : ''}, nothing changed: ${e.message}`);
  process.exitCode = 1;
} finally {
  await client.end();
}
