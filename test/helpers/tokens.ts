import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose';

/** Signing keys for auth tests, with the public halves written where herald can read them. */
export interface TestKeys {
  dir: string;
  secret: string;
  rsaPublicKeyFile: string;
  jwksFile: string;
  hs256(claims: JWTPayload, expiresIn?: string | number, secret?: string): Promise<string>;
  rs256(claims: JWTPayload, expiresIn?: string | number): Promise<string>;
  es256(claims: JWTPayload, expiresIn?: string | number, kid?: string): Promise<string>;
  /** An ES256 token signed by a key herald does not know, under a known kid. */
  es256Foreign(claims: JWTPayload): Promise<string>;
  cleanup(): void;
}

export async function makeTestKeys(): Promise<TestKeys> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-keys-'));
  const secret = 'test-secret-at-least-32-bytes-long!!';
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const ec = await generateKeyPair('ES256', { extractable: true });
  const foreign = await generateKeyPair('ES256', { extractable: true });
  const rsaPublicKeyFile = path.join(dir, 'rsa.pem');
  fs.writeFileSync(rsaPublicKeyFile, await exportSPKI(rsa.publicKey));
  const jwksFile = path.join(dir, 'jwks.json');
  fs.writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' }] }));

  const sign = (claims: JWTPayload, alg: string, key: Parameters<SignJWT['sign']>[0], expiresIn: string | number | undefined, kid?: string) => {
    const jwt = new SignJWT(claims).setProtectedHeader(kid ? { alg, kid } : { alg }).setIssuedAt();
    if (expiresIn !== undefined) jwt.setExpirationTime(expiresIn);
    return jwt.sign(key);
  };
  return {
    dir,
    secret,
    rsaPublicKeyFile,
    jwksFile,
    hs256: (claims, expiresIn = '1h', s = secret) => sign(claims, 'HS256', new TextEncoder().encode(s), expiresIn),
    rs256: (claims, expiresIn = '1h') => sign(claims, 'RS256', rsa.privateKey, expiresIn),
    es256: (claims, expiresIn = '1h', kid = 'ec-1') => sign(claims, 'ES256', ec.privateKey, expiresIn, kid),
    es256Foreign: (claims) => sign(claims, 'ES256', foreign.privateKey, '1h', 'ec-1'),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
