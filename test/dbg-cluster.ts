import { RedisCluster } from './helpers/redis-cluster';
import { redisBrokerPair, PREFIX } from './helpers/redis-broker-pair';
import { seqChannel } from '../src/broker/redis/redis-names';
import { waitFor } from './helpers/ports';
(async () => {
  const cluster = await new RedisCluster().start();
  const pair = redisBrokerPair({ mode: 'cluster', nodes: cluster.seeds, commandTimeoutMs: 1000 }, [{ pattern: 'hist:*', maxLength: 100, maxAgeSeconds: 0 }], async () => {});
  await waitFor('c', () => pair.publisher.state === 'connected', 15000);
  const topic = 'hist:failover';
  await pair.subscriber.subscribe(topic);
  const t0 = Date.now();
  const log = (...a: unknown[]) => console.log(String(Date.now() - t0).padStart(6), ...a);
  pair.subscriber['options'].handlers.onState = (s: string) => log('subscriber state', s);
  pair.publisher['options'].handlers.onState = (s: string) => log('publisher state', s);
  const victim = await cluster.masterOf(seqChannel(PREFIX, topic));
  log('kill', victim);
  await cluster.kill(victim);
  let last = '';
  for (let i = 0; i < 80; i++) {
    let out: string;
    try { out = 'ok seq ' + (await pair.publisher.publish(topic, Buffer.from('m' + i))).seq; } catch (e) { out = (e as Error).name + ': ' + (e as Error).message.slice(0, 90); }
    if (out.slice(0, 30) !== last.slice(0, 30)) log('publish', out);
    last = out;
    if (out.startsWith('ok')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const ts = Date.now(); await pair.subscriber.subscribe(topic); log('subscribe confirmed again (waited', Date.now() - ts, 'ms)');
  const r = await pair.publisher.publish(topic, Buffer.from('after'));
  await waitFor('after', () => pair.received.some((m) => m.seq === r.seq));
  log('delivered', r.seq, 'received seqs', pair.received.map((m) => m.seq).join(','));
  await pair.close(); await cluster.stop();
})();
