import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { removeTempDir, trackTempDir } from './children';

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it (PEM files in a scratch folder). */
export interface TlsFiles {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

export function makeTlsFiles(): TlsFiles {
  const dir = trackTempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'herald-tls-')));
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', '/CN=herald test CA');
  openssl('req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1');
  fs.writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.pem'), '-days', '1', '-extfile', file('san.ext'));
  return { dir, ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key') };
}

export function removeTlsFiles(files: TlsFiles): void {
  removeTempDir(files.dir);
}

/** redis-server options for its TLS port: these files, no client certificates. */
export function redisTlsArgs(files: TlsFiles): string[] {
  return ['--tls-cert-file', files.cert, '--tls-key-file', files.key, '--tls-ca-cert-file', files.ca, '--tls-auth-clients', 'no'];
}


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
