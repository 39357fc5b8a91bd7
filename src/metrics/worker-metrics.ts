import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { FANOUT_BUCKETS_MICROS, type WorkerStats } from '../metrics/worker-stats';

/**
 * prom-client samples event-loop delay with a timer of this period (its default is
 * 10 ms): 100 wake-ups a second in every process from the first scrape on, which
 * was most of an idle primary's CPU. Once a second still catches a blocked loop.
 */
export const EVENT_LOOP_SAMPLE_MS = 1000;

/** prom-client's getMetricsAsJSON() shape: plain objects, so it crosses IPC as is. */
export type MetricsJson = object[];

/**
 * One worker's Prometheus metrics, as prom-client JSON for the primary to
 * aggregate. Everything is read from WorkerStats when scraped: the hot paths
 * only bump plain numbers, and no label lookup ever happens per socket or per
 * message. Process metrics (memory, event-loop lag, GC) come from prom-client's
 * defaults, labelled with the worker id.
 */
export function createWorkerMetrics(stats: WorkerStats, label: string = String(stats.workerId)): () => Promise<MetricsJson> {
  const registry = new Registry();
  const worker = { worker: label };
  collectDefaultMetrics({ register: registry, labels: worker, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });

  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({ name, help, labelNames: ['worker'], registers: [registry], collect() { this.set(worker, read()); } });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({ name, help, labelNames: ['worker'], registers: [registry], collect() { this.reset(); this.inc(worker, read()); } });
  /** A counter per value of `label`, from a plain map of counts. */
  const byLabel = (name: string, help: string, label: string, read: () => Record<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: ['worker', label],
      registers: [registry],
      collect() {
        this.reset();
        for (const [value, n] of Object.entries(read())) this.inc({ ...worker, [label]: value }, n);
      },
    });

  gauge('herald_connections', 'Open WebSocket connections on this worker.', () => stats.connections);
  // Unlabelled, so the primary's sum gives the cluster total without PromQL.
  new Gauge({ name: 'herald_cluster_connections', help: 'Open WebSocket connections over all workers.', registers: [registry], collect() { this.set(stats.connections); } });
  gauge('herald_connection_capacity', 'Connections this worker takes before answering 503.', () => stats.capacity);
  gauge('herald_accepting', '1 while the worker listens for new connections.', () => (stats.accepting ? 1 : 0));
  counter('herald_upgrades_accepted_total', 'WebSocket upgrades accepted.', () => stats.upgradesAccepted);
  byLabel('herald_upgrades_refused_total', 'WebSocket upgrades refused, by reason (bad_request, bad_topics, bad_recovery, capacity, draining, auth_*, forbidden_topic, ip_*, proxy_header_missing, internal_error).', 'reason', () => stats.upgradesRefused);
  counter('herald_messages_received_total', 'Messages this worker received from the broker (one per publish that reached it, however many sockets got it).', () => stats.messagesReceived);
  counter('herald_messages_delivered_total', 'Deliveries to sockets: per message received, the number of this worker\'s sockets it was handed to.', () => stats.messagesDelivered);
  byLabel('herald_connections_closed_total', 'WebSocket connections closed, by close code (1000, 1001, 1006, 4000, ...).', 'code', () => stats.connectionsClosed);
  counter('herald_slow_consumer_closes_total', 'Connections closed (4002) for a send buffer over slowConsumer.maxBufferedBytes.', () => stats.slowConsumerCloses);
  gauge('herald_slow_consumers', 'Connections over the send-buffer limit at the last sweep; uWS drops their messages meanwhile.', () => stats.slowConsumersNow);
  counter('herald_client_flood_closes_total', 'Connections closed (4400) for sending too many messages.', () => stats.clientFloodCloses);
  counter('herald_oversized_frame_closes_total', 'Connections closed (1009) for an oversized frame.', () => stats.oversizedFrameCloses);
  counter('herald_token_expiry_closes_total', 'Connections closed (4501) because their token expired.', () => stats.tokenExpiryCloses);
  counter('herald_commands_total', 'Commands of envelope connections run (subscribe, unsubscribe, refresh), whatever their answer.', () => stats.commandsRun);
  counter('herald_commands_refused_total', 'Client frames of envelope connections refused before running: malformed or over the command budget.', () => stats.commandsRefused);
  counter('herald_commands_rate_limited_total', 'Commands answered rate_limited (command budget spent).', () => stats.commandsRateLimited);
  gauge('herald_broker_connected', '1 when this worker\'s broker subscriber is connected.', () => (stats.brokerState === 'connected' ? 1 : 0));
  counter('herald_broker_reconnects_total', 'Times this worker\'s broker subscriber reconnected.', () => stats.brokerReconnects);
  counter('herald_seq_rewinds_total', 'Times a topic\'s seq went back on the live stream (Redis lost writes in a failover or restart); its envelope clients got a gap with reason "ahead".', () => stats.seqRewinds);

  // prom-client reports event-loop lag one collection late (it measures with setImmediate after
  // collecting); collect once now so the first scrape already has a value.
  void registry.getMetricsAsJSON();
  return async () => [...(await registry.getMetricsAsJSON()), fanoutHistogram(stats)];
}

/** The fan-out histogram, built from the plain bucket counters (prom-client cannot load counts into a Histogram). */
function fanoutHistogram(stats: WorkerStats): object {
  const name = 'herald_fanout_duration_seconds';
  const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
  let cumulative = 0;
  FANOUT_BUCKETS_MICROS.forEach((bound, i) => {
    cumulative += stats.fanoutBuckets[i];
    values.push({ metricName: `${name}_bucket`, labels: { le: bound / 1e6 }, value: cumulative });
  });
  cumulative += stats.fanoutBuckets[FANOUT_BUCKETS_MICROS.length];
  values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: cumulative });
  values.push({ metricName: `${name}_sum`, labels: {}, value: stats.fanoutMicrosSum / 1e6 });
  values.push({ metricName: `${name}_count`, labels: {}, value: cumulative });
  return {
    name,
    help: 'Time to hand one broker message to uWS (one topic publish) on a worker, over all workers.',
    type: 'histogram',
    values,
    aggregator: 'sum',
  };
}
