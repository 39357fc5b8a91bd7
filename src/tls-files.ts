import crypto from 'node:crypto';
import fs from 'node:fs';
import { ConfigError } from './config-files';

/**
 * Checks of the TLS files at configuration time. uWebSockets.js's SSLApp
 * answers any problem with one "App construction failed" and no cause, so
 * herald reads the files itself first and names the key and what is wrong:
 * in the primary at start, and again before a rolling restart, which is
 * refused (old workers keep serving) when a renewed file is broken.
 */

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
  passphrase: string;
}

/** convict format: empty, or a file this process can read. */
export function readableFile(value: unknown): void {
  if (typeof value !== 'string') throw new Error('must be a file path');
  if (value === '') return;
  try {
    fs.accessSync(value, fs.constants.R_OK);
  } catch (err) {
    throw new Error(`cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!fs.statSync(value).isFile()) throw new Error('must be a file, not a folder');
}

function read(key: string, file: string): string {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch (err) {
    throw new ConfigError(`${key}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** The PEM certificates in a file, in order; throws naming the key when there is none or one is broken. */
function certificates(key: string, file: string): crypto.X509Certificate[] {
  const blocks = read(key, file).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(`${key}: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((pem, i) => {
    try {
      return new crypto.X509Certificate(pem);
    } catch (err) {
      throw new ConfigError(`${key}: certificate ${i + 1} in ${file} cannot be parsed: ${(err as Error).message}`);
    }
  });
}

/** Both files or neither; each readable as PEM; the key unlocked by the passphrase and matching the certificate. */
export function checkTlsFiles(tls: TlsFiles): void {
  if (!tls.certFile && !tls.keyFile) {
    if (tls.caFile) throw new ConfigError('tls.caFile: needs tls.certFile and tls.keyFile (client certificates are asked for only over TLS)');
    return;
  }
  if (!tls.certFile) throw new ConfigError('tls.keyFile: needs tls.certFile (HERALD_TLS_CERT_FILE) too');
  if (!tls.keyFile) throw new ConfigError('tls.certFile: needs tls.keyFile (HERALD_TLS_KEY_FILE) too');
  const [leaf] = certificates('tls.certFile', tls.certFile);
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: read('tls.keyFile', tls.keyFile), format: 'pem', passphrase: tls.passphrase });
  } catch (err) {
    const why = /passphrase|decrypt|bad decrypt/i.test((err as Error).message) ? 'wrong or missing tls.passphrase' : (err as Error).message;
    throw new ConfigError(`tls.keyFile: ${tls.keyFile} cannot be read as a PEM private key: ${why}`);
  }
  if (!leaf.checkPrivateKey(key)) {
    throw new ConfigError(`tls.keyFile: ${tls.keyFile} is not the key of the certificate in ${tls.certFile} (${leaf.subject.replace(/\n/g, ', ')})`);
  }
  if (tls.caFile) certificates('tls.caFile', tls.caFile);
}

/** For the start-up log: who the certificate is for and until when. */
export function describeCertificate(certFile: string): { subject: string; validTo: string; expired: boolean } {
  const [leaf] = certificates('tls.certFile', certFile);
  return { subject: leaf.subject.replace(/\n/g, ', '), validTo: new Date(leaf.validTo).toISOString(), expired: Date.parse(leaf.validTo) < Date.now() };
}
