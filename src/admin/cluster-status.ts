import type { Broker } from '../broker/broker';
import type { WorkerSnapshot } from '../metrics/worker-stats';

/** What /stats and /health report, computed from one snapshot of all workers. */
export interface ClusterStatus {
  healthy: boolean;
  reasons: string[];
  broker: { kind: 'local' | 'redis'; publisher: string; subscribersConnected: number };
  workers: { configured: number; up: number };
  connections: number;
  capacity: number;
  /** Broker messages received, summed over workers: one publish that reaches every worker counts once per worker. */
  messagesReceived: number;
  /** Deliveries to sockets, summed over workers. */
  messagesDelivered: number;
  slowConsumerCloses: number;
  perWorker: { id: number; pid?: number; up: boolean; connections: number; broker?: string; rssBytes?: number }[];
}

export function clusterStatus(kind: 'local' | 'redis', publisher: Pick<Broker, 'state'>, snapshot: WorkerSnapshot[]): ClusterStatus {
  const reasons: string[] = [];
  const up = snapshot.filter((w) => w.up && w.stats);
  const down = snapshot.filter((w) => !w.up).map((w) => w.id);
  if (down.length > 0) reasons.push(`workers not up: ${down.join(', ')}`);
  if (publisher.state !== 'connected') reasons.push(`broker publisher ${publisher.state}`);
  const detached = up.filter((w) => w.stats!.brokerState !== 'connected');
  for (const state of new Set(detached.map((w) => w.stats!.brokerState))) {
    reasons.push(`broker subscriber ${state} on workers: ${detached.filter((w) => w.stats!.brokerState === state).map((w) => w.id).join(', ')}`);
  }
  const sum = (pick: (w: WorkerSnapshot) => number) => up.reduce((acc, w) => acc + pick(w), 0);
  return {
    healthy: reasons.length === 0,
    reasons,
    broker: { kind, publisher: publisher.state, subscribersConnected: up.length - detached.length },
    workers: { configured: snapshot.length, up: up.length },
    connections: sum((w) => w.stats!.connections),
    capacity: sum((w) => w.stats!.capacity),
    messagesReceived: sum((w) => w.stats!.messagesReceived),
    messagesDelivered: sum((w) => w.stats!.messagesDelivered),
    slowConsumerCloses: sum((w) => w.stats!.slowConsumerCloses),
    perWorker: snapshot.map((w) => ({
      id: w.id,
      pid: w.pid,
      up: w.up,
      connections: w.stats?.connections ?? 0,
      broker: w.stats?.brokerState,
      rssBytes: w.stats?.rssBytes,
      ...(w.stats ? { stats: w.stats } : {}),
    })),
  };
}
