import { AggregatorRegistry, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { EVENT_LOOP_SAMPLE_MS, type MetricsJson } from './worker-metrics';

export interface ClusterMetricsDeps {
  /** One prom-client JSON dump per live worker (workers that do not answer in time are left out). */
  workers: () => Promise<MetricsJson[]>;
  /** Worker slots configured and up, from the supervisor. */
  workerCounts: () => { configured: number; up: number };
}

/**
 * GET /metrics: the workers' metrics merged with prom-client's AggregatorRegistry
 * (per-worker series keep their worker label, unlabelled ones such as
 * herald_cluster_connections and the fan-out histogram are summed) plus the
 * primary's own process metrics under worker="primary".
 */
export function createClusterMetrics(deps: ClusterMetricsDeps): { contentType: string; scrape: () => Promise<string> } {
  const primary = new Registry();
  collectDefaultMetrics({ register: primary, labels: { worker: 'primary' }, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  new Gauge({ name: 'herald_workers_configured', help: 'Gateway worker slots.', registers: [primary], collect() { this.set(deps.workerCounts().configured); } });
  new Gauge({ name: 'herald_workers_up', help: 'Gateway workers listening and answering.', registers: [primary], collect() { this.set(deps.workerCounts().up); } });

  // prom-client reports event-loop lag one collection late (it measures with setImmediate after
  // collecting); collect once now so the first scrape already has a value.
  void primary.getMetricsAsJSON();
  return {
    contentType: primary.contentType,
    scrape: async () => {
      const dumps = await deps.workers();
      const merged = AggregatorRegistry.aggregate([await primary.getMetricsAsJSON(), ...dumps]);
      return merged.metrics();
    },
  };
}
