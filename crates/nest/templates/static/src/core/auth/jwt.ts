import { SignJWT, errors, jwtVerify } from 'jose';
import type { AuthConfig } from './auth.config.js';

export interface AccessClaims {
  /** User id. */
  sub: string;
  email: string;
  /** Organization the token acts in (multi-tenant projects). */
  org?: string;
}

/** Short-lived HS256 access token. */
export async function signAccessToken(config: AuthConfig, claims: AccessClaims): Promise<string> {
  return new SignJWT({ email: claims.email, typ: 'access', ...(claims.org ? { org: claims.org } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(config.issuer)
    .setAudience(config.issuer)
    .setIssuedAt()
    .setExpirationTime(`${config.accessTtlSeconds}s`)
    .sign(config.jwtSecret);
}

/** The claims of a valid access token, or null: wrong signature, algorithm, issuer or type, or expired. */
export async function verifyAccessToken(config: AuthConfig, token: string): Promise<AccessClaims | null> {
  try {
    const { payload } = await jwtVerify(token, config.jwtSecret, {
      algorithms: ['HS256'],
      issuer: config.issuer,
      audience: config.issuer,
    });
    if (payload.typ !== 'access' || typeof payload.sub !== 'string' || typeof payload.email !== 'string') return null;
    return { sub: payload.sub, email: payload.email, ...(typeof payload.org === 'string' ? { org: payload.org } : {}) };
  } catch (e) {
    if (e instanceof errors.JOSEError) return null;
    throw e;
  }
}
