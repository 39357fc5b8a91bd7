import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressSet, normalizeIp, parseAddressRule, parseForwardedAddress } from '../../src/net/ip-address';
import { MISSING_PROXY_HEADER, resolveClientAddress, type ClientAddressSettings } from '../../src/transport/client-address';

const trust = (specs: string[], proxyProtocol = false): ClientAddressSettings => ({ trusted: new AddressSet(specs), proxyProtocol });
const facts = (peer: string, forwardedFor = '', proxied = '') => ({ peer, proxied, forwardedFor: () => forwardedFor });

describe('IP addresses', () => {
  it('gives every spelling of an address one canonical text', () => {
    assert.equal(normalizeIp('127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeIp('0000:0000:0000:0000:0000:0000:0000:0001'), '::1', 'as uWS prints an IPv6 peer');
    assert.equal(normalizeIp('0000:0000:0000:0000:0000:ffff:7f00:0001'), '127.0.0.1', 'an IPv4 peer of a dual-stack socket');
    assert.equal(normalizeIp('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(normalizeIp('2001:0DB8:0000:0000:0001:0000:0000:0042'), '2001:db8::1:0:0:42', 'first of two equal zero runs compressed');
    assert.equal(normalizeIp('2001:db8:0:0:0:0:2:1'), '2001:db8::2:1');
    assert.equal(normalizeIp('2001:db8:1:1:1:1:1:1'), '2001:db8:1:1:1:1:1:1');
    assert.equal(normalizeIp('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1', 'a single zero group is not compressed');
    for (const bad of ['', 'localhost', '256.1.1.1', '1.2.3', '2001:db8::1::2', 'fe80::1%eth0x', '1.2.3.4/8']) assert.equal(normalizeIp(bad), undefined, bad);
  });

  it('reads X-Forwarded-For entries with brackets or ports', () => {
    assert.equal(parseForwardedAddress(' 203.0.113.7 '), '203.0.113.7');
    assert.equal(parseForwardedAddress('203.0.113.7:51234'), '203.0.113.7');
    assert.equal(parseForwardedAddress('[2001:db8::7]:443'), '2001:db8::7');
    assert.equal(parseForwardedAddress('[2001:db8::7]'), '2001:db8::7');
    assert.equal(parseForwardedAddress('2001:db8::7'), '2001:db8::7');
    assert.equal(parseForwardedAddress('unknown'), undefined);
    assert.equal(parseForwardedAddress('_hidden'), undefined);
  });

  it('parses trusted-proxy rules and says what is wrong with a bad one', () => {
    assert.deepEqual(parseAddressRule('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseAddressRule('2001:db8::/32'), { address: '2001:db8::', prefix: 32, family: 'ipv6' });
    assert.deepEqual(parseAddressRule('192.0.2.1'), { address: '192.0.2.1', prefix: 32, family: 'ipv4' });
    assert.throws(() => parseAddressRule('10.0.0.0/33'), /prefix length must be 0 to 32/);
    assert.throws(() => parseAddressRule('lb.internal'), /not an IPv4 or IPv6 address or CIDR block/);
    assert.throws(() => parseAddressRule('10.0.0.0/8/1'), /not an IPv4/);
  });

  it('matches addresses and CIDR blocks of both families, IPv4 rules also as mapped IPv6 once normalized', () => {
    const set = new AddressSet(['127.0.0.2', '10.0.0.0/8', '2001:db8::/32']);
    assert.ok(set.has('127.0.0.2'));
    assert.ok(!set.has('127.0.0.3'));
    assert.ok(set.has('10.200.3.4'));
    assert.ok(set.has('2001:db8:ffff::1'));
    assert.ok(!set.has('2001:db9::1'));
    assert.ok(set.has(normalizeIp('0000:0000:0000:0000:0000:ffff:0a01:0203')!));
    assert.ok(!new AddressSet([]).has('127.0.0.1'));
  });
});

describe('client address', () => {
  it('is the peer when the peer is not trusted, whatever it claims', () => {
    const settings = trust(['127.0.0.2'], true);
    assert.deepEqual(resolveClientAddress(facts('127.0.0.3', '198.51.100.1', '203.0.113.9'), settings), { ip: '127.0.0.3' });
    assert.deepEqual(resolveClientAddress(facts('127.0.0.3', '198.51.100.1'), trust([])), { ip: '127.0.0.3' });
  });

  it('reads X-Forwarded-For from a trusted peer right to left, stopping at the first untrusted address', () => {
    const settings = trust(['127.0.0.2', '10.0.0.0/8']);
    assert.deepEqual(resolveClientAddress(facts('127.0.0.2', '198.51.100.1'), settings), { ip: '198.51.100.1' });
    // The client wrote 6.6.6.6 itself; the proxy appended the address it saw.
    assert.deepEqual(resolveClientAddress(facts('127.0.0.2', '6.6.6.6, 198.51.100.1'), settings), { ip: '198.51.100.1' });
    // Two trusted hops (an internal proxy at 10.1.2.3 in front of the one that connected).
    assert.deepEqual(resolveClientAddress(facts('127.0.0.2', '6.6.6.6, 198.51.100.1, 10.1.2.3'), settings), { ip: '198.51.100.1' });
    assert.deepEqual(resolveClientAddress(facts('127.0.0.2', ''), settings), { ip: '127.0.0.2' }, 'no header: the proxy itself');
    assert.deepEqual(resolveClientAddress(facts('127.0.0.2', '6.6.6.6, garbage'), settings), { ip: '127.0.0.2' }, 'garbage stops at the last trusted hop');
    assert.deepEqual(resolveClientAddress(facts('127.0.0.2', '[2001:db8::9]:1234'), settings), { ip: '2001:db8::9' });
  });

  it('with the PROXY protocol, takes the header of a trusted peer, refuses a trusted peer without one, and ignores it from others', () => {
    const settings = trust(['127.0.0.2'], true);
    assert.deepEqual(resolveClientAddress(facts('127.0.0.2', '6.6.6.6', '203.0.113.9'), settings), { ip: '203.0.113.9' }, 'the client\'s own XFF is not read');
    assert.deepEqual(resolveClientAddress(facts('127.0.0.2', '', '2001:0db8:0000:0000:0000:0000:0000:0042'), settings), { ip: '2001:db8::42' });
    assert.deepEqual(resolveClientAddress(facts('127.0.0.2', '198.51.100.1', ''), settings), { refusal: MISSING_PROXY_HEADER });
    assert.deepEqual(resolveClientAddress(facts('127.0.0.5', '', '203.0.113.9'), settings), { ip: '127.0.0.5' });
    // A CDN edge (trusted) behind the balancer: its X-Forwarded-For is read after the PROXY address.
    const chained = trust(['127.0.0.2', '192.0.2.0/24'], true);
    assert.deepEqual(resolveClientAddress(facts('127.0.0.2', '6.6.6.6, 198.51.100.1', '192.0.2.10'), chained), { ip: '198.51.100.1' });
  });
});
