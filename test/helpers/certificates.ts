import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A self-signed certificate for localhost and 127.0.0.1, made with the system openssl (nothing downloaded). */
export interface TestCertificate {
  dir: string;
  certFile: string;
  keyFile: string;
  /** The certificate's PEM, for a client's `ca` option. */
  pem: Buffer;
  /** The certificate's SHA-256 fingerprint, as Node reports it (AB:CD:...). */
  fingerprint: string;
}

export function makeCertificate(options: { dir?: string; name?: string; cn?: string; passphrase?: string } = {}): TestCertificate {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'herald-tls-'));
  const name = options.name ?? 'server';
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}.key`);
  const keyArgs = options.passphrase ? ['-passout', `pass:${options.passphrase}`] : ['-noenc'];
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', ...keyArgs,
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${options.cn ?? 'localhost'}`,
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'pipe' });
  const fingerprint = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' }).trim().split('=')[1];
  return { dir, certFile, keyFile, pem: fs.readFileSync(certFile), fingerprint };
}
