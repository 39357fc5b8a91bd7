import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config';
import { describeCertificate } from '../../src/tls-files';
import { makeCertificate } from '../../scripts/harness/tls-certs';

describe('TLS and proxy settings', () => {
  const good = makeCertificate();
  const other = makeCertificate({ name: 'other', dir: good.dir });
  const locked = makeCertificate({ name: 'locked', dir: good.dir, passphrase: 'sesame' });
  after(() => fs.rmSync(good.dir, { recursive: true, force: true }));
  const tls = (env: Record<string, string>) => loadConfig({ NODE_ENV: 'test', ...env });

  it('loads a certificate and its key, and an encrypted key with its passphrase', () => {
    const config = tls({ HERALD_TLS_CERT_FILE: good.certFile, HERALD_TLS_KEY_FILE: good.keyFile });
    assert.equal(config.tls.certFile, good.certFile);
    tls({ HERALD_TLS_CERT_FILE: locked.certFile, HERALD_TLS_KEY_FILE: locked.keyFile, HERALD_TLS_PASSPHRASE: 'sesame', HERALD_TLS_CA_FILE: other.certFile });
    assert.match(describeCertificate(good.certFile).subject, /CN=localhost/);
    assert.equal(describeCertificate(good.certFile).expired, false);
  });

  it('stops on a missing, unreadable, mismatched or locked file, naming the key', () => {
    const missing = path.join(good.dir, 'nope.pem');
    assert.throws(() => tls({ HERALD_TLS_CERT_FILE: missing, HERALD_TLS_KEY_FILE: good.keyFile }), /^ConfigError: tls\.certFile: cannot read the file \(ENOENT\): value was ".*nope\.pem"$/);
    assert.throws(() => tls({ HERALD_TLS_CERT_FILE: good.dir, HERALD_TLS_KEY_FILE: good.keyFile }), /tls\.certFile: must be a file, not a folder/);
    assert.throws(() => tls({ HERALD_TLS_CERT_FILE: good.certFile }), /^ConfigError: tls\.certFile: needs tls\.keyFile \(HERALD_TLS_KEY_FILE\) too$/);
    assert.throws(() => tls({ HERALD_TLS_KEY_FILE: good.keyFile }), /tls\.keyFile: needs tls\.certFile/);
    assert.throws(() => tls({ HERALD_TLS_CERT_FILE: good.certFile, HERALD_TLS_KEY_FILE: other.keyFile }), /^ConfigError: tls\.keyFile: .*other\.key is not the key of the certificate in .*server\.pem \(CN=localhost\)$/);
    assert.throws(() => tls({ HERALD_TLS_CERT_FILE: good.keyFile, HERALD_TLS_KEY_FILE: good.keyFile }), /tls\.certFile: .* holds no PEM certificate/);
    assert.throws(() => tls({ HERALD_TLS_CERT_FILE: good.certFile, HERALD_TLS_KEY_FILE: good.certFile }), /tls\.keyFile: .* cannot be read as a PEM private key/);
    assert.throws(() => tls({ HERALD_TLS_CERT_FILE: locked.certFile, HERALD_TLS_KEY_FILE: locked.keyFile }), /tls\.keyFile: .*locked\.key cannot be read as a PEM private key: wrong or missing tls\.passphrase/);
    assert.throws(() => tls({ HERALD_TLS_CERT_FILE: locked.certFile, HERALD_TLS_KEY_FILE: locked.keyFile, HERALD_TLS_PASSPHRASE: 'wrong' }), /wrong or missing tls\.passphrase/);
    assert.throws(() => tls({ HERALD_TLS_CA_FILE: good.certFile }), /tls\.caFile: needs tls\.certFile and tls\.keyFile/);
    assert.throws(() => tls({ HERALD_TLS_CERT_FILE: good.certFile, HERALD_TLS_KEY_FILE: good.keyFile, HERALD_TLS_CA_FILE: good.keyFile }), /tls\.caFile: .* holds no PEM certificate/);
  });

  it('takes trusted proxies as addresses and CIDR blocks, and refuses anything else', () => {
    assert.deepEqual(tls({ HERALD_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.2,2001:db8::/32' }).proxies.trusted, ['10.0.0.0/8', '127.0.0.2', '2001:db8::/32']);
    assert.throws(() => tls({ HERALD_TRUSTED_PROXIES: '10.0.0.0/8,lb.internal' }), /^ConfigError: proxies\.trusted: "lb\.internal" is not an IPv4 or IPv6 address or CIDR block/);
    assert.throws(() => tls({ HERALD_TRUSTED_PROXIES: '10.0.0.0/40' }), /proxies\.trusted: "10\.0\.0\.0\/40": the prefix length must be 0 to 32/);
  });

  it('needs trusted proxies for the PROXY protocol, and plain ws:// under it', () => {
    assert.throws(() => tls({ HERALD_PROXY_PROTOCOL: 'true' }), /^ConfigError: proxies\.proxyProtocol: needs proxies\.trusted/);
    assert.throws(
      () => tls({ HERALD_PROXY_PROTOCOL: 'true', HERALD_TRUSTED_PROXIES: '127.0.0.2', HERALD_TLS_CERT_FILE: good.certFile, HERALD_TLS_KEY_FILE: good.keyFile }),
      /proxies\.proxyProtocol: cannot be used with tls\.certFile: a proxy sends the PROXY header before the TLS handshake/,
    );
    assert.equal(tls({ HERALD_PROXY_PROTOCOL: 'true', HERALD_TRUSTED_PROXIES: '127.0.0.2' }).proxies.proxyProtocol, true);
  });
});
