import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import { createLocalJWKSet, importSPKI, jwtVerify, type JWSHeaderParameters, type JWTPayload } from 'jose';
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

type AuthConfig = HeraldConfig['auth'];
type KeyLike = Awaited<ReturnType<typeof importSPKI>> | Uint8Array;

/** A token longer than this is not a token; refuse before parsing it. */
const MAX_TOKEN_LENGTH = 8192;
/** `user:<sub>` must be a valid topic name (1..128 of [A-Za-z0-9_.:-]). */
const SUB_PATTERN = /^[A-Za-z0-9_.:-]{1,123}$/;

/**
 * jose error codes, grouped into the reasons a refused client is told (in the
 * 401 body) and the refusal label counted in stats and metrics.
 */
const REASONS: Record<string, { reason: string; refusal: string }> = {
  ERR_JWT_EXPIRED: { reason: 'token expired', refusal: 'auth_expired' },
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: { reason: 'token signature invalid', refusal: 'auth_signature' },
  ERR_JWS_INVALID: { reason: 'token malformed', refusal: 'auth_malformed' },
  ERR_JWT_INVALID: { reason: 'token malformed', refusal: 'auth_malformed' },
  ERR_JOSE_ALG_NOT_ALLOWED: { reason: 'token algorithm not accepted', refusal: 'auth_algorithm' },
  ERR_JOSE_NOT_SUPPORTED: { reason: 'token algorithm not accepted', refusal: 'auth_algorithm' },
  ERR_JWKS_NO_MATCHING_KEY: { reason: 'no key matches the token', refusal: 'auth_signature' },
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: { reason: 'several keys match the token; set kid', refusal: 'auth_signature' },
  ERR_JWT_CLAIM_VALIDATION_FAILED: { reason: 'token claim rejected', refusal: 'auth_claims' },
};

const fail = (reason: string, refusal: string): VerifyResult => ({ ok: false, reason, refusal });

/** The JWS algorithm a PEM public key is meant for; herald accepts RS256 and ES256 (P-256). */
function algorithmOf(pem: string, file: string): 'RS256' | 'ES256' {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error(`auth.publicKeyFile: ${file} holds a ${key.asymmetricKeyType} key; use RSA (RS256) or EC P-256 (ES256)`);
}

function identityFrom(payload: JWTPayload): VerifyResult {
  if (typeof payload.sub !== 'string' || !SUB_PATTERN.test(payload.sub)) {
    return fail('token sub must be 1 to 123 characters of [A-Za-z0-9_.:-]', 'auth_claims');
  }
  const topics = payload.topics;
  if (topics !== undefined && !(Array.isArray(topics) && topics.every((t) => typeof t === 'string'))) {
    return fail('token topics claim must be a list of strings', 'auth_claims');
  }
  return { ok: true, identity: { sub: payload.sub, exp: typeof payload.exp === 'number' ? payload.exp : undefined, topics } };
}

export type JwtVerifier = (token: string) => Promise<VerifyResult>;

/**
 * Builds the token check from auth.* config. Key files are read once, here, so
 * a missing or bad file stops the worker at start rather than refusing clients.
 */
export async function createJwtVerifier(config: AuthConfig): Promise<JwtVerifier> {
  const algorithms: string[] = [];
  const secret = config.hmacSecret ? new TextEncoder().encode(config.hmacSecret) : undefined;
  if (secret) algorithms.push('HS256');

  let publicKey: { alg: string; key: KeyLike } | undefined;
  if (config.publicKeyFile) {
    const pem = fs.readFileSync(config.publicKeyFile, 'utf8');
    const alg = algorithmOf(pem, config.publicKeyFile);
    publicKey = { alg, key: await importSPKI(pem, alg) };
  }
  let jwks: ReturnType<typeof createLocalJWKSet> | undefined;
  if (config.jwksFile) {
    const parsed = JSON.parse(fs.readFileSync(config.jwksFile, 'utf8')) as { keys?: unknown };
    if (!Array.isArray(parsed.keys)) throw new Error(`auth.jwksFile: ${config.jwksFile} has no "keys" list`);
    jwks = createLocalJWKSet(parsed as Parameters<typeof createLocalJWKSet>[0]);
  }
  if (publicKey || jwks) algorithms.push('RS256', 'ES256');
  if (algorithms.length === 0) throw new Error('auth.enabled: no key configured');

  const keyFor = async (header: JWSHeaderParameters, token: Parameters<ReturnType<typeof createLocalJWKSet>>[1]): Promise<KeyLike> => {
    if (header.alg === 'HS256' && secret) return secret;
    if (jwks) {
      try {
        return await jwks(header, token);
      } catch (err) {
        // A JWKS without this kid still leaves the single public key, when both are configured.
        if (!publicKey || (err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw err;
      }
    }
    if (publicKey && header.alg === publicKey.alg) return publicKey.key;
    throw Object.assign(new Error(`no key for ${header.alg}`), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
  };

  const options = {
    algorithms,
    clockTolerance: config.clockToleranceSeconds,
    ...(config.issuer ? { issuer: config.issuer } : {}),
    ...(config.audience ? { audience: config.audience } : {}),
  };

  return async (token: string) => {
    if (token === '') return fail('missing token: send ?token= or Sec-WebSocket-Protocol', 'auth_missing');
    if (token.length > MAX_TOKEN_LENGTH) return fail('token malformed', 'auth_malformed');
    try {
      const { payload } = await jwtVerify(token, keyFor, options);
      return identityFrom(payload);
    } catch (err) {
      const known = REASONS[(err as { code?: string }).code ?? ''];
      if (known) return fail(known.reason, known.refusal);
      // Anything else is a token jose could not even parse (bad base64, bad JSON): the client's fault.
      if (err instanceof TypeError || err instanceof SyntaxError) return fail('token malformed', 'auth_malformed');
      throw err;
    }
  };
}
