import { createHash } from 'node:crypto';
import { SignJWT, errors, jwtVerify } from 'jose';
import type { AuthConfig } from './auth.config.js';

export interface AccessClaims {
  /** User id. */
  sub: string;
  email: string;
  /** Organization the token acts in (multi-tenant projects). */
  org?: string;
  /** The account's session version when issued: a password reset or change bumps it, ending older tokens. */
  sv: number;
  /** The sign-in it belongs to (its refresh tokens' family): signing out or a replayed refresh token ends it. */
  sid?: string;
  /** Issued at (seconds since the epoch). */
  iat: number;
}

/** A signing key and its id (`kid`): the first bytes of the secret's SHA-256, never the secret. */
export interface SigningKey {
  kid: string;
  key: Uint8Array;
}

export function signingKey(secret: string): SigningKey {
  return {
    kid: createHash('sha256').update(secret).digest('base64url').slice(0, 12),
    key: new TextEncoder().encode(secret),
  };
}

/** Short-lived HS256 access token, signed with the current key and naming it in `kid`. */
export async function signAccessToken(config: AuthConfig, claims: Omit<AccessClaims, 'iat'>): Promise<string> {
  const current = config.jwtKeys[0];
  return new SignJWT({
    email: claims.email,
    typ: 'access',
    sv: claims.sv,
    ...(claims.org ? { org: claims.org } : {}),
    ...(claims.sid ? { sid: claims.sid } : {}),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: current.kid })
    .setSubject(claims.sub)
    .setIssuer(config.issuer)
    .setAudience(config.issuer)
    .setIssuedAt()
    .setExpirationTime(`${config.accessTtlSeconds}s`)
    .sign(current.key);
}

/** Tokens verified before, per configuration: their claims and expiry (seconds since the epoch). */
const verified = new WeakMap<AuthConfig, Map<string, { claims: AccessClaims; exp: number }>>();
/** Most tokens remembered per configuration; past it the oldest is forgotten (verified again when next seen). */
const MAX_VERIFIED = 10_000;

/**
 * The token of an `Authorization: Bearer <token>` header. The scheme is matched without regard to
 * case (RFC 9110 section 11.1: `bearer` is as good as `Bearer`); anything else gives undefined.
 */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^bearer +(\S+) *$/i.exec(header);
  return m?.[1];
}

/**
 * The claims of a valid access token, or null: unknown key, wrong signature, algorithm, issuer
 * or type, no expiry, or expired. Tokens signed with a previous key (AUTH_JWT_PREVIOUS_SECRETS)
 * stay valid while that key is listed, so the secret can be rotated without signing everyone out.
 *
 * A token is verified once (jose's WebCrypto verification costs about 80 us, a third of a simple
 * request's time); the same token string is then answered from memory until its expiry, checked
 * on every use the way jose checks it. What a token cannot say (its sign-in ended, the account
 * suspended or its password changed) the guard checks on every request either way.
 */
export async function verifyAccessToken(config: AuthConfig, token: string): Promise<AccessClaims | null> {
  let known = verified.get(config);
  if (!known) verified.set(config, (known = new Map()));
  const hit = known.get(token);
  if (hit) {
    if (Math.floor(Date.now() / 1000) < hit.exp) return hit.claims;
    known.delete(token);
    return null;
  }
  const checked = await verifyWithJose(config, token);
  if (checked) {
    if (known.size >= MAX_VERIFIED) known.delete(known.keys().next().value!);
    known.set(token, checked);
  }
  return checked?.claims ?? null;
}

async function verifyWithJose(config: AuthConfig, token: string): Promise<{ claims: AccessClaims; exp: number } | null> {
  const keyFor = (header: { kid?: string }) => {
    const found = header.kid === undefined ? config.jwtKeys[0] : config.jwtKeys.find((k) => k.kid === header.kid);
    if (!found) throw new errors.JWSSignatureVerificationFailed('unknown signing key');
    return found.key;
  };
  // One encoding of a signature only: base64url's last character has bits a decoder ignores, so
  // a changed last character could still verify (jose decodes leniently).
  const signature = token.split('.')[2] ?? '';
  if (Buffer.from(signature, 'base64url').toString('base64url') !== signature) return null;
  try {
    const { payload } = await jwtVerify(token, keyFor, {
      algorithms: ['HS256'],
      issuer: config.issuer,
      audience: config.issuer,
      requiredClaims: ['exp'],
    });
    if (
      payload.typ !== 'access' ||
      typeof payload.sub !== 'string' ||
      typeof payload.email !== 'string' ||
      typeof payload.iat !== 'number' ||
      typeof payload.exp !== 'number'
    ) {
      return null;
    }
    const sv = typeof payload.sv === 'number' && Number.isInteger(payload.sv) ? payload.sv : 0;
    const claims: AccessClaims = Object.freeze({
      sub: payload.sub,
      email: payload.email,
      iat: payload.iat,
      sv,
      ...(typeof payload.org === 'string' ? { org: payload.org } : {}),
      ...(typeof payload.sid === 'string' ? { sid: payload.sid } : {}),
    });
    return { claims, exp: payload.exp };
  } catch (e) {
    if (e instanceof errors.JOSEError) return null;
    throw e;
  }
}
