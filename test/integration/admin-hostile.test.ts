import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../helpers/herald-process';
import { rawExchange } from '../helpers/raw-http';

const request = (target: string) => `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;

describe('admin server under malformed requests', () => {
  let herald: HeraldProcess;

  before(async () => {
    herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1' } }).start();
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
});
