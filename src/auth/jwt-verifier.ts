import { createHmac, createPublicKey, timingSafeEqual, verify as verifySignature, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import type { HeraldConfig } from '../config';

/** What a verified token tells herald about a connection. */
export interface Identity {
  sub: string;
  /** Seconds since the epoch, when the token has an exp claim. */
  exp?: number;
  /** The `topics` claim: patterns the connection may request; undefined when absent. */
  topics?: readonly string[];
}

export type VerifyResult = { ok: true; identity: Identity } | { ok: false; reason: string; refusal: string };

/**
 * Checks a JWT (compact JWS) and returns who it is for. Synchronous (node:crypto): the
 * upgrade is then answered inside uWS's own handler. An asynchronous check has to answer
 * from a corked callback later, and uWS v20.30 sometimes closes a socket upgraded inside
 * res.cork() (measured: about 1 of 40 concurrent authenticated upgrades got 1006).
 */
export type JwtVerifier = (token: string) => VerifyResult;

type AuthConfig = HeraldConfig['auth'];
type Algorithm = 'HS256' | 'RS256' | 'ES256';

/** A token longer than this is not a token; refuse before parsing it. */
const MAX_TOKEN_LENGTH = 8192;
/** `user:<sub>` must be a valid topic name (1..128 of [A-Za-z0-9_.:-]). */
const SUB_PATTERN = /^[A-Za-z0-9_.:-]{1,123}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

const fail = (reason: string, refusal: string): VerifyResult => ({ ok: false, reason, refusal });
const MALFORMED = fail('token malformed', 'auth_malformed');
const BAD_SIGNATURE = fail('token signature invalid', 'auth_signature');
const BAD_ALGORITHM = fail('token algorithm not accepted', 'auth_algorithm');
const BAD_CLAIM = fail('token claim rejected', 'auth_claims');

/** The JWS algorithm a public key is meant for; herald accepts RS256 and ES256 (P-256). */
function algorithmOf(key: KeyObject, source: string): 'RS256' | 'ES256' {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error(`${source} holds a ${key.asymmetricKeyType} key; use RSA (RS256) or EC P-256 (ES256)`);
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  if (!BASE64URL.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function identityFrom(payload: Record<string, unknown>): VerifyResult {
  if (typeof payload.sub !== 'string' || !SUB_PATTERN.test(payload.sub)) {
    return fail('token sub must be 1 to 123 characters of [A-Za-z0-9_.:-]', 'auth_claims');
  }
  const topics = payload.topics;
  if (topics !== undefined && !(Array.isArray(topics) && topics.every((t) => typeof t === 'string'))) {
    return fail('token topics claim must be a list of strings', 'auth_claims');
  }
  return { ok: true, identity: { sub: payload.sub, exp: typeof payload.exp === 'number' ? payload.exp : undefined, topics: topics as string[] | undefined } };
}

/** exp, nbf, iss and aud, as RFC 7519 defines them, with the configured leeway for clock skew. */
function claimsProblem(payload: Record<string, unknown>, config: AuthConfig, nowSeconds: number): VerifyResult | undefined {
  const { exp, nbf, iss, aud } = payload;
  const leeway = config.clockToleranceSeconds;
  if (exp !== undefined && (typeof exp !== 'number' || !Number.isFinite(exp))) return BAD_CLAIM;
  if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf))) return BAD_CLAIM;
  if (typeof exp === 'number' && nowSeconds - leeway >= exp) return fail('token expired', 'auth_expired');
  if (typeof nbf === 'number' && nowSeconds + leeway < nbf) return BAD_CLAIM;
  if (config.issuer && iss !== config.issuer) return BAD_CLAIM;
  if (config.audience && !(aud === config.audience || (Array.isArray(aud) && aud.includes(config.audience)))) return BAD_CLAIM;
  return undefined;
}

interface Keys {
  secret?: Buffer;
  publicKey?: { alg: 'RS256' | 'ES256'; key: KeyObject };
  /** JWKS keys by kid (a key without kid is listed under ''). */
  jwks?: Map<string, { alg: 'RS256' | 'ES256'; key: KeyObject }[]>;
}

function readKeys(config: AuthConfig): Keys {
  const keys: Keys = {};
  if (config.hmacSecret) keys.secret = Buffer.from(config.hmacSecret, 'utf8');
  if (config.publicKeyFile) {
    const key = createPublicKey(fs.readFileSync(config.publicKeyFile, 'utf8'));
    keys.publicKey = { alg: algorithmOf(key, `auth.publicKeyFile: ${config.publicKeyFile}`), key };
  }
  if (config.jwksFile) {
    const parsed = JSON.parse(fs.readFileSync(config.jwksFile, 'utf8')) as { keys?: unknown };
    if (!Array.isArray(parsed.keys)) throw new Error(`auth.jwksFile: ${config.jwksFile} has no "keys" list`);
    keys.jwks = new Map();
    for (const jwk of parsed.keys as { kid?: string; use?: string }[]) {
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      const key = createPublicKey({ key: jwk as never, format: 'jwk' });
      const kid = jwk.kid ?? '';
      const list = keys.jwks.get(kid) ?? [];
      list.push({ alg: algorithmOf(key, `auth.jwksFile: ${config.jwksFile} (kid ${kid || 'none'})`), key });
      keys.jwks.set(kid, list);
    }
  }
  if (!keys.secret && !keys.publicKey && !keys.jwks) throw new Error('auth.enabled: no key configured');
  return keys;
}

/** The key for this header, or the refusal to give when there is none. */
function keyFor(keys: Keys, alg: Algorithm, kid: string | undefined): { key: KeyObject | Buffer } | VerifyResult {
  if (alg === 'HS256') return keys.secret ? { key: keys.secret } : BAD_ALGORITHM;
  if (!keys.publicKey && !keys.jwks) return BAD_ALGORITHM;
  if (keys.jwks) {
    const candidates = (kid !== undefined ? keys.jwks.get(kid) : [...keys.jwks.values()].flat())?.filter((k) => k.alg === alg) ?? [];
    if (candidates.length === 1) return { key: candidates[0].key };
    if (candidates.length > 1) return fail('several keys match the token; set kid', 'auth_signature');
    // A JWKS without this kid still leaves the single public key, when both are configured.
    if (!keys.publicKey) return fail('no key matches the token', 'auth_signature');
  }
  return keys.publicKey!.alg === alg ? { key: keys.publicKey!.key } : BAD_ALGORITHM;
}

function signatureValid(alg: Algorithm, key: KeyObject | Buffer, signed: string, signature: Buffer): boolean {
  if (alg === 'HS256') {
    const expected = createHmac('sha256', key as Buffer).update(signed).digest();
    return expected.length === signature.length && timingSafeEqual(expected, signature);
  }
  const dsaEncoding = alg === 'ES256' ? 'ieee-p1363' : undefined;
  try {
    return verifySignature('sha256', Buffer.from(signed), { key: key as KeyObject, ...(dsaEncoding ? { dsaEncoding } : {}) }, signature);
  } catch {
    return false; // a signature of the wrong length for the key
  }
}

/**
 * Builds the token check from auth.* config. Key files are read once, here, so
 * a missing or bad file stops the worker at start rather than refusing clients.
 */
export function createJwtVerifier(config: AuthConfig, now: () => number = () => Date.now() / 1000): JwtVerifier {
  const keys = readKeys(config);
  return (token: string) => {
    if (token === '') return fail('missing token: send ?token= or Sec-WebSocket-Protocol', 'auth_missing');
    if (token.length > MAX_TOKEN_LENGTH) return MALFORMED;
    const parts = token.split('.');
    if (parts.length !== 3 || !BASE64URL.test(parts[2])) return MALFORMED;
    const header = decodeJson(parts[0]);
    const payload = decodeJson(parts[1]);
    if (!header || !payload) return MALFORMED;
    // b64:false, crit and the like change what is signed: not tokens herald issues or takes.
    if (header.crit !== undefined || header.b64 !== undefined) return BAD_ALGORITHM;
    const alg = header.alg;
    if (alg !== 'HS256' && alg !== 'RS256' && alg !== 'ES256') return BAD_ALGORITHM;
    const found = keyFor(keys, alg, typeof header.kid === 'string' ? header.kid : undefined);
    if (!('key' in found)) return found;
    if (!signatureValid(alg, found.key, `${parts[0]}.${parts[1]}`, Buffer.from(parts[2], 'base64url'))) return BAD_SIGNATURE;
    return claimsProblem(payload, config, now()) ?? identityFrom(payload);
  };
}
