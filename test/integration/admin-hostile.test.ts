import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { rawExchange } from '../helpers/raw-http';

const request = (target: string) => `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;

describe('admin server under malformed requests', () => {
  let herald: HeraldProcess;

  before(async () => {
    herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_MAX_PUBLISH_BYTES: '1000' } }).start();
  });
  after(async () => {
    await herald?.stop();
  });

  it('answers request targets that URL parsing rejects, and stays up', async () => {
    for (const target of ['//%zz/', 'http://:80/', '//a:99999/health', '//[', 'http://[/', '/health?x=%zz', '/publish%', '*']) {
      const answer = await rawExchange(herald.adminPort, request(target));
      assert.ok(answer.status === 400 || answer.status === 404, `${target}: ${answer.text.slice(0, 80) || answer.ended}`);
      assert.equal(herald.child.exitCode, null, `primary exited after ${target}: ${herald.output}`);
    }
    assert.equal((await herald.health()).status, 200);
  });

  it('answers a bad escape in the publish topic with 400, not a publish to another topic', async () => {
    const res = await fetch(`${herald.adminUrl}/publish?topic=a%zz`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 400);
    const twice = await fetch(`${herald.adminUrl}/publish?topic=a&topic=b`, { method: 'POST', body: 'x' });
    assert.equal(twice.status, 400);
  });

  it('refuses a compressed body with 415 rather than publishing the compressed bytes', async () => {
    const res = await fetch(`${herald.adminUrl}/publish?topic=a`, { method: 'POST', body: 'x', headers: { 'Content-Encoding': 'gzip' } });
    assert.equal(res.status, 415);
    assert.equal((await fetch(`${herald.adminUrl}/publish?topic=a`, { method: 'POST', body: 'x', headers: { 'Content-Encoding': 'identity' } })).status, 202);
  });

  it('answers 413 to a chunked body over the limit instead of resetting the connection', async () => {
    const chunk = Buffer.alloc(16 * 1024, 97);
    const chunks = Array.from({ length: 16 }, () => Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
    const request = Buffer.concat([Buffer.from('POST /publish?topic=t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'), ...chunks, Buffer.from('0\r\n\r\n')]);
    const answer = await rawExchange(herald.adminPort, request, 1000);
    assert.equal(answer.status, 413, answer.text || answer.ended);
    assert.match(answer.text, /payload over 1000 bytes/);
    // And a declared Content-Length over the limit is refused before the body is read.
    const declared = await rawExchange(herald.adminPort, 'POST /publish?topic=t HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nabc', 500);
    assert.equal(declared.status, 413);
  });
});
