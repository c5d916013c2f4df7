import { BadRequestException, ForbiddenException, GoneException, Injectable, NotFoundException } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { IsEmail, IsIn, IsInt, IsISO8601, IsOptional, IsString, Length, Max, MaxLength, Min } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash, randomBytes } from 'node:crypto';
import type { CrudRepository } from '../crud/repository.js';
import { ident } from '../crud/resource.js';
import { DatabaseService } from '../database/database.service.js';
import { RateLimiter, tooManyRequests } from '../http/rate-limit.js';
import { requestContext } from '../http/request-context.js';
import { filesSettings } from './files.settings.js';
import { ShareAccess } from './share-access.js';
import type { FileTableDef } from './types.js';
import { FileService } from './upload.js';

/** argon2id with OWASP's baseline cost, as for account passwords. */
const ARGON = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** A link's token: 32 random bytes, base64url. Anything else is no link (404, no query). */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

@ApiSchema({ name: 'FilesCreateShareDto' })
export class CreateShareDto {
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'When the link stops working (default FILES_SHARE_DAYS from now; at most FILES_SHARE_MAX_DAYS)',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1_000_000, description: 'Downloads the link allows (none: no limit)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  maxDownloads?: number;

  @ApiPropertyOptional({ minLength: 8, maxLength: 256, description: 'Asked of whoever opens the link, in the X-Share-Password header' })
  @IsOptional()
  @IsString()
  @Length(8, 256)
  password?: string;

  @ApiPropertyOptional({ enum: ['view', 'download'], default: 'download', description: 'view: the file’s name, size and type only' })
  @IsOptional()
  @IsIn(['view', 'download'])
  permission?: 'view' | 'download';

  @ApiPropertyOptional({ format: 'email', description: 'Whom it is for (recorded; the link is what grants access)' })
  @IsOptional()
  @IsEmail()
  @MaxLength(255)
  sharedWithEmail?: string;
}

class ShareCreated {
  @ApiProperty({ description: 'The share row’s key (DELETE it to revoke the link)' })
  id!: string;
  @ApiProperty({ description: 'The link’s secret: shown this once, stored only as its SHA-256' })
  token!: string;
  @ApiProperty({ description: 'Where the link opens: GET it for the details, GET .../content for the bytes' })
  path!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt!: string | null;
  @ApiProperty({ type: 'integer', nullable: true })
  maxDownloads!: number | null;
  @ApiProperty({ enum: ['view', 'download'] })
  permission!: 'view' | 'download';
  @ApiProperty()
  passwordRequired!: boolean;
}

@ApiSchema({ name: 'FilesShareCreatedDto' })
export class ShareCreatedDto {
  @ApiProperty({ type: ShareCreated })
  data!: ShareCreated;
}

class SharedFile {
  @ApiProperty()
  name!: string;
  @ApiProperty({ description: 'Bytes, as a decimal string' })
  sizeBytes!: string;
  @ApiProperty()
  type!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt!: string | null;
  @ApiProperty({ type: 'integer', nullable: true, description: 'Downloads left (null: no limit)' })
  downloadsLeft!: number | null;
  @ApiProperty()
  canDownload!: boolean;
}

@ApiSchema({ name: 'FilesSharedFileDto' })
export class SharedFileDto {
  @ApiProperty({ type: SharedFile })
  data!: SharedFile;
}

/** What `nestgen.<share table>_open` answers for a token. */
interface Opened {
  o_status: 'ok' | 'expired' | 'used';
  o_maker: string | null;
  o_tenant: string | null;
  o_share: string;
  o_password: string | null;
  o_download: boolean;
  o_key: string;
  o_size: string;
  o_type: string | null;
  o_checksum: string;
  o_name: string | null;
  o_expires: Date | null;
  o_left: string | null;
}

/**
 * Share links. A link is made by someone who can see the file: the server draws its token
 * (returned once; the share row and the links table keep its SHA-256 only), hashes its optional
 * password with argon2id, and records the row-level security settings of the moment, so that the
 * link reads the file as its maker could then (db/09-files.sql). Opening a link needs no account
 * and tells nothing but the file's name, size and type: an unknown, malformed or revoked link is
 * 404, an expired or used-up one 410, a wrong password 403 (and, after
 * FILES_SHARE_PASSWORD_ATTEMPTS wrong ones in 15 minutes, 429). Downloads are counted in the
 * database by one conditional UPDATE, so concurrent downloads never pass the limit; a limited
 * link serves the whole file (no ranges, which would let the bytes be fetched uncounted).
 */
@Injectable()
export class ShareService {
  private readonly limiter = RateLimiter.shared();
  private readonly defaultDays = filesSettings().shareDays;
  private readonly maxDays = filesSettings().shareMaxDays;
  private readonly attempts = filesSettings().sharePasswordAttempts;

  constructor(
    private readonly db: DatabaseService,
    private readonly files: FileService,
    private readonly access: ShareAccess,
  ) {}

  private sharesOf(def: FileTableDef) {
    if (!def.shares) throw new NotFoundException('this table has no share links');
    return def.shares;
  }

  /** A link to a file the caller can see (404 otherwise). */
  async create(def: FileTableDef, repo: CrudRepository, id: string, dto: CreateShareDto, path: string): Promise<ShareCreatedDto> {
    const s = this.sharesOf(def);
    const lacks = (what: string) => new BadRequestException(`${what}: ${s.table} has no column for it`);
    if (dto.maxDownloads !== undefined && !s.max) throw lacks('maxDownloads');
    if (dto.permission === 'view' && !s.canDownload) throw lacks('permission "view"');
    if (dto.sharedWithEmail !== undefined && !s.email) throw lacks('sharedWithEmail');
    if (dto.expiresAt !== undefined && !s.expires) throw lacks('expiresAt');
    let expires: Date | null = null;
    if (s.expires) {
      const latest = Date.now() + this.maxDays * 86_400_000;
      expires = dto.expiresAt !== undefined ? new Date(dto.expiresAt) : new Date(Date.now() + this.defaultDays * 86_400_000);
      if (Number.isNaN(expires.getTime()) || expires.getTime() <= Date.now())
        throw new BadRequestException('expiresAt: a time in the future');
      if (expires.getTime() > latest)
        throw new BadRequestException(`expiresAt: at most ${this.maxDays} days from now (FILES_SHARE_MAX_DAYS)`);
    }
    await this.files.visible(def, repo, id);
    const token = randomBytes(32).toString('base64url');
    const tokenHash = sha256(token);
    const password = dto.password ? await hash(dto.password, ARGON) : null;
    const permission = dto.permission ?? 'download';
    const user = requestContext()?.userId;
    const values: [string, unknown][] = [
      [s.file, id],
      [s.token, tokenHash],
    ];
    if (s.expires && expires) values.push([s.expires, expires.toISOString()]);
    if (s.max && dto.maxDownloads !== undefined) values.push([s.max, dto.maxDownloads]);
    if (s.canDownload) values.push([s.canDownload, permission === 'download']);
    if (s.sharedBy && user !== undefined) values.push([s.sharedBy, user]);
    if (s.email && dto.sharedWithEmail !== undefined) values.push([s.email, dto.sharedWithEmail]);
    const shareId = await this.db.transaction((client) =>
      repo.withScope(
        async (q) => {
          const r = await q.query(
            `INSERT INTO ${s.table} (${values.map(([c]) => ident(c)).join(', ')}) VALUES (${values.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING ${ident(s.id)}::text AS id`,
            values.map(([, v]) => v),
          );
          const made = (r.rows[0] as { id: string }).id;
          await q.query(`SELECT ${s.links}_link($1, $2, $3)`, [made, tokenHash, password]);
          return made;
        },
        undefined,
        client,
      ),
    );
    return {
      data: {
        id: shareId,
        token,
        path: `${path}${token}`,
        expiresAt: expires ? expires.toISOString() : null,
        maxDownloads: dto.maxDownloads ?? null,
        permission,
        passwordRequired: password !== null,
      },
    };
  }

  private async open(s: NonNullable<FileTableDef['shares']>, token: string, take: boolean): Promise<Opened | undefined> {
    if (!TOKEN.test(token)) return undefined;
    const r = await this.db.transaction((c) => c.query(`SELECT * FROM ${s.links}_open($1, $2)`, [sha256(token), take]));
    return r.rows[0] as Opened | undefined;
  }

  /** The link as whoever holds it may use it, or the refusal (404, 410, 403, 429). */
  private async usable(def: FileTableDef, token: string, req: FastifyRequest, reply: FastifyReply): Promise<Opened> {
    // The token is in the URL: never sent on as a referrer, never indexed, never cached.
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-robots-tag', 'noindex, nofollow');
    reply.header('cache-control', 'no-store');
    const link = await this.open(this.sharesOf(def), token, false);
    if (!link) throw new NotFoundException('no such link');
    if (link.o_status === 'expired') throw new GoneException('this link has expired');
    if (link.o_status === 'used') throw new GoneException('this link has been used as many times as it allows');
    if (link.o_password) {
      // Counted before the (slow) check: a burst of guesses cannot all pass the limit together.
      const key = `share-pw:${sha256(link.o_share)}`;
      const tries = await this.limiter.count(key, 15 * 60_000);
      if (tries > this.attempts) {
        throw tooManyRequests((await this.limiter.ttl(key)) / 1000, 'too many wrong passwords for this link');
      }
      const given = req.headers['x-share-password'];
      if (typeof given !== 'string' || given === '') throw new ForbiddenException('this link needs its password (X-Share-Password header)');
      let ok: boolean;
      try {
        ok = await verify(link.o_password, given);
      } catch {
        ok = false;
      }
      if (!ok) throw new ForbiddenException('wrong password for this link');
      // The right password: its holder's own tries start over.
      await this.limiter.del(key);
    }
    // A link works only while its maker could still read the file: their account active, still a
    // member of the organization it was made in, the organization not closed.
    if (!(await this.access.stillAllowed(link.o_maker, link.o_tenant))) throw new NotFoundException('no such link');
    return link;
  }

  /** The shared file's name, size and type, and what the link allows. */
  async details(def: FileTableDef, token: string, req: FastifyRequest, reply: FastifyReply): Promise<SharedFileDto> {
    const link = await this.usable(def, token, req, reply);
    return {
      data: {
        name: link.o_name ?? 'file',
        sizeBytes: link.o_size,
        type: link.o_type || 'application/octet-stream',
        expiresAt: link.o_expires ? new Date(link.o_expires).toISOString() : null,
        downloadsLeft: link.o_left === null ? null : Number(link.o_left),
        canDownload: link.o_download,
      },
    };
  }

  /** The shared file's bytes, counted against the link's limit once they are about to be sent. */
  async download(def: FileTableDef, token: string, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const s = this.sharesOf(def);
    const link = await this.usable(def, token, req, reply);
    if (!link.o_download) throw new ForbiddenException('this link shows the file, it does not let it be downloaded');
    const limited = link.o_left !== null;
    await this.files.serveBytes(
      req,
      reply,
      { key: link.o_key, size: Number(link.o_size), type: link.o_type ?? '', checksum: link.o_checksum, name: link.o_name ?? 'file' },
      async () => {
        const taken = await this.open(s, token, true);
        if (!taken || taken.o_status !== 'ok') throw new GoneException('this link has been used as many times as it allows');
      },
      { ranges: !limited, cache: 'no-store' },
    );
  }
}
