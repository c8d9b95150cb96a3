// The agent's Prometheus metrics: kube-proxy's names where the meaning is the same, ours beside them.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Counters } from '../dataplane/stats.js';
import type { Rejection } from '../model/types.js';

export interface MapFill {
  name: string;
  entries: number;
  capacity: number;
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly syncDuration = new Histogram({
    name: 'kubeproxy_sync_proxy_rules_duration_seconds',
    help: 'Time to turn the desired state into map writes and apply them',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly networkProgramming = new Histogram({
    name: 'kubeproxy_network_programming_duration_seconds',
    help: 'From an endpoint change (EndpointSlice last-change-trigger-time) to the datapath serving it',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly lastSync = new Gauge({
    name: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds',
    help: 'When the last sync that programmed the maps finished',
    registers: [this.registry],
  });
  readonly syncFailures = new Counter({
    name: 'kbproxy_sync_failures_total',
    help: 'Syncs that failed to write the maps (the last good state kept serving)',
    registers: [this.registry],
  });
  readonly conntrackCollected = new Counter({
    name: 'kbproxy_conntrack_collected_total',
    help: 'Expired conntrack entries deleted by the agent',
    registers: [this.registry],
  });
  readonly repairs = new Counter({
    name: 'kbproxy_map_repairs_total',
    help: 'Map writes that repaired entries changed, added or removed behind the agent',
    registers: [this.registry],
  });
  readonly retryDelay = new Gauge({
    name: 'kbproxy_sync_retry_delay_seconds',
    help: 'Delay of the pending retry after a failed sync (0: none pending)',
    registers: [this.registry],
  });
  readonly rejected = new Gauge({
    name: 'kbproxy_rejected_objects',
    help: 'Objects refused or not served, by kind, in the current state',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  private readonly packets = new Counter({
    name: 'kbproxy_datapath_packets_total',
    help: 'Packets seen by the datapath, by reason, summed over CPUs',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly readCounters: () => Counters,
    mapFill: () => MapFill[],
  ) {
    // Read at scrape time: a table filling up (conntrack above all) shows before it refuses entries.
    const fill: [string, string, (m: MapFill) => number][] = [
      ['kbproxy_bpf_map_entries', 'Entries in each BPF map of the datapath', (m) => m.entries],
      ['kbproxy_bpf_map_capacity', 'Maximum entries of each BPF map of the datapath', (m) => m.capacity],
    ];
    for (const [name, help, value] of fill) {
      new Gauge({
        name,
        help,
        labelNames: ['map'],
        registers: [this.registry],
        collect() {
          for (const m of mapFill()) this.set({ map: m.name }, value(m));
        },
      });
    }
  }

  setRejected(rejected: readonly Rejection[]): void {
    this.rejected.reset();
    for (const r of rejected) this.rejected.inc({ kind: r.kind });
  }

  /** Datapath counters are read from the stats map at scrape time; the metric follows them by deltas. */
  async render(): Promise<string> {
    for (const [reason, { packets }] of Object.entries(this.readCounters())) {
      const delta = packets - (this.seen.get(reason) ?? 0);
      this.packets.inc({ reason }, Math.max(delta, 0));
      this.seen.set(reason, packets);
    }
    return this.registry.metrics();
  }
}
