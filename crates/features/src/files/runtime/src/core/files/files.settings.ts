import { defineSettings } from '../config.js';

/** Section `files`: storage, limits, scanning, share links and the sweep. */
export const filesSettings = defineSettings('files', (env) => {
  const storage = env.oneOf('FILES_STORAGE', ['local', 's3'], 'local');
  const bucket = env.get('FILES_S3_BUCKET');
  if (storage === 's3' && !bucket) env.invalid('FILES_S3_BUCKET', 'FILES_STORAGE=s3 needs FILES_S3_BUCKET');
  return {
    storage,
    dir: env.text('FILES_DIR', './storage/files'),
    s3: {
      bucket: bucket ?? '',
      prefix: env.text('FILES_S3_PREFIX', ''),
      region: env.get('FILES_S3_REGION') ?? env.get('AWS_REGION') ?? 'us-east-1',
      endpoint: env.url('FILES_S3_ENDPOINT'),
      forcePathStyle: env.flag('FILES_S3_FORCE_PATH_STYLE', false),
    },
    scan: env.oneOf('FILES_SCAN', ['signatures', 'off'], 'signatures'),
    maxBytes: env.int('FILES_MAX_BYTES', 100 << 20, 0, Number.MAX_SAFE_INTEGER),
    allowedTypes: env.list('FILES_ALLOWED_TYPES').map((s) => s.toLowerCase()),
    typeMismatch: env.oneOf('FILES_TYPE_MISMATCH', ['store', 'refuse'], 'store'),
    ownerQuotaBytes: env.int('FILES_QUOTA_BYTES', 0, 0, Number.MAX_SAFE_INTEGER),
    tenantQuotaBytes: env.int('FILES_TENANT_QUOTA_BYTES', 0, 0, Number.MAX_SAFE_INTEGER),
    idleMs: env.int('FILES_IDLE_SECONDS', 60, 1, 86_400) * 1000,
    uploadsPerUser: env.int('FILES_UPLOADS_PER_USER', 2, 1, 1000),
    urlSeconds: env.int('FILES_URL_SECONDS', 300, 1, 7 * 86_400),
    orphanMs: env.int('FILES_ORPHAN_SECONDS', 3600, 1, 30 * 86_400) * 1000,
    sweepMs: env.int('FILES_SWEEP_SECONDS', 600, 1, 86_400) * 1000,
    shareDays: env.int('FILES_SHARE_DAYS', 7, 1, 3650),
    shareMaxDays: env.int('FILES_SHARE_MAX_DAYS', 90, 1, 3650),
    sharePasswordAttempts: env.int('FILES_SHARE_PASSWORD_ATTEMPTS', 10, 1, 10_000),
  };
});
