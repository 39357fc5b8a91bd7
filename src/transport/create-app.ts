import type { TemplatedApp } from 'uWebSockets.js';
import type { HeraldConfig } from '../config';
import type { Uws } from '../native-uws';

/**
 * The one place a worker's uWS app is made: SSLApp when a certificate is
 * configured (wss://), App otherwise. The files are read here, when the worker
 * starts, so each worker of a rolling restart serves the files as they are then.
 */
export function createApp(uws: Uws, tls: HeraldConfig['tls']): TemplatedApp {
  if (!tls.certFile) return uws.App();
  try {
    return uws.SSLApp({
      cert_file_name: tls.certFile,
      key_file_name: tls.keyFile,
      ...(tls.caFile ? { ca_file_name: tls.caFile } : {}),
      ...(tls.passphrase ? { passphrase: tls.passphrase } : {}),
    });
  } catch (err) {
    // The configuration check read these files a moment ago; uWS says no more than "App construction failed".
    throw new Error(`TLS: uWebSockets.js could not load tls.certFile ${tls.certFile} and tls.keyFile ${tls.keyFile}: ${(err as Error).message}`);
  }
}

/** ws or wss, for logs and the README's URLs. */
export function scheme(tls: HeraldConfig['tls']): 'ws' | 'wss' {
  return tls.certFile ? 'wss' : 'ws';
}
