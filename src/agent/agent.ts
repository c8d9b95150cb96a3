// The agent: source events -> change tracker -> compiler -> reconciler (diff, writer) -> pinned maps,
// with the datapath attached to this node's pod interfaces and an admin API beside it.
import { writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { ErrorCode, KbpError } from '../errors.js';
import type { FastifyInstance } from 'fastify';
import { ServicePipeline } from '../compile/pipeline.js';
import type { LbService } from '../compile/types.js';
import type { Logger } from '../log.js';
import type { Source, SourceEvent } from '../model/events.js';
import type { NodeConfig, Rejection } from '../model/types.js';
import { native, type BpfMap, type BpfObject, type CgroupHook } from '../native/bpf.js';
import { loadDatapath, Programs, SocketPrograms, type ConntrackTimeouts } from '../dataplane/loader.js';
import { KernelServiceMaps, openServiceMaps } from '../dataplane/kernel-maps.js';
import { Reconciler } from '../dataplane/reconciler.js';
import { readCounters, type Counters } from '../dataplane/stats.js';
import { collectExpired, purgeFlows } from '../dataplane/conntrack.js';
import { buildAdminServer, parseHostPort, type AgentStatus } from '../api/server.js';
import { agentAdminSource } from './admin-source.js';
import { HealthCheckServers } from './health-check.js';
import { InterfaceWatcher } from './interfaces.js';
import { AgentMetrics, type MapFill } from './metrics.js';
import { Backoff } from './backoff.js';

export interface AgentOptions {
  /** An existing directory on a bpffs (the CLI makes sure of it: src/dataplane/bpffs.ts). */
  pinDir: string;
  /** Conntrack lifetimes (unset: the datapath's defaults, kube-proxy's). */
  conntrack?: Partial<ConntrackTimeouts>;
  /** How often expired conntrack entries are deleted (default 30 s). */
  conntrackGcIntervalMs?: number;
  /** How often the maps are read back and whatever differs from the desired state rewritten (default 60 s). */
  repairIntervalMs?: number;
  hairpinAddress: string;
  /**
   * The node's interface toward the rest of the network: outside traffic to node ports, load-balancer
   * and external IPs is served there (xdp, tc egress). Without it, only pod traffic is served.
   */
  nodeInterface?: string;
  /**
   * A cgroup (v2) whose processes are host-network clients: their sockets to a ClusterIP are pointed
   * at a backend (the node's root cgroup in a cluster; a cgroup of their own in tests).
   */
  hostCgroup?: string;
  adminAddress?: string;
  /** Bearer token of the admin API's acting (POST) routes; without one they are off. */
  adminToken?: string;
  /** This node, as the flags name it. */
  node: NodeConfig;
  source: Source;
  log: Logger;
  /** Called after every sync that programmed the maps (tests and the demo wait on it). */
  onSynced?: (status: AgentStatus) => void;
}

/** A failed sync is retried after this, doubling to RETRY_MAX_MS, with jitter. */
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 10_000;

/** A conntrack table this full gets a warning at each collection: new flows then evict live idle ones. */
const CT_NEARLY_FULL = 0.9;

/** The maps whose fill /metrics reports, and how each is counted: hash maps are read in batches,
 * map-of-maps and LPM tries (which take no batch reads) walked key by key. */
const FILL_MAPS: Record<string, 'batch' | 'keys'> = {
  svc_v4: 'batch',
  backends_v4: 'batch',
  revnat_v4: 'batch',
  maglev_v4: 'keys',
  ct_v4: 'batch',
  affinity_v4: 'batch',
  lb_src_v4: 'keys',
  sock_revnat_v4: 'batch',
};

/**
 * A flow to a remote backend whose next hop has no neighbour entry yet is source-NATed to this node's
 * address and passed to the stack, which resolves the neighbour and forwards it: the stack must then
 * accept a packet with its own source address from the interface.
 */
function acceptLocalSource(name: string): void {
  writeFileSync(`/proc/sys/net/ipv4/conf/${name}/accept_local`, '1');
}

/** The interface's first IPv4 address: the source of outside flows this node forwards to other nodes. */
function interfaceAddress(name: string): string {
  const address = networkInterfaces()[name]?.find((a) => a.family === 'IPv4')?.address;
  if (address === undefined) throw new KbpError(ErrorCode.InvalidConfig, `node interface "${name}" does not exist or has no IPv4 address`);
  return address;
}

const rejectionText = (r: Rejection): string => `${r.kind} ${r.key}: ${r.reason}`;

export class Agent {
  private obj: BpfObject | undefined;
  /** Handles opened once: conntrack (for clearing stale flows) and the counters. */
  private ct: BpfMap | undefined;
  private stats: BpfMap | undefined;
  private reconciler: Reconciler | undefined;
  private interfaces: InterfaceWatcher | undefined;
  private admin: FastifyInstance | undefined;
  private stopSource: (() => void) | undefined;
  private readonly pipeline: ServicePipeline;
  /** The service ports last compiled: what the maps are being brought to. */
  private services: LbService[] = [];
  /** Set by the source's first `synced`: from then on every change is programmed. */
  private synced = false;
  private flushScheduled = false;
  private stopped = false;
  /** Trigger times of changes compiled but not yet programmed (kept across a failed sync). */
  private triggers: number[] = [];
  private readonly backoff = new Backoff(RETRY_MIN_MS, RETRY_MAX_MS);
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly housekeeping: NodeJS.Timeout[] = [];
  /** Resolves start() once the source's first complete read is programmed. */
  private afterFirstProgramming: (() => void) | undefined;
  private readonly statusValue: AgentStatus = {
    node: '',
    ready: false,
    generation: 0,
    lastSyncAt: null,
    lastError: null,
    consecutiveFailures: 0,
    nextRetryAt: null,
    lastSyncOps: 0,
    lastSyncMs: 0,
    services: 0,
    backends: 0,
    interfaces: [],
    rejected: [],
  };

  private readonly metrics = new AgentMetrics(
    () => this.counters(),
    () => this.mapFill(),
  );
  private readonly healthChecks: HealthCheckServers;

  constructor(private readonly options: AgentOptions) {
    this.healthChecks = new HealthCheckServers(options.log);
    this.pipeline = new ServicePipeline(options.node);
    this.statusValue.node = options.node.name;
  }

  async start(): Promise<void> {
    const { log } = this.options;
    const nodeInterface = this.options.nodeInterface;
    const nodeAddress = nodeInterface === undefined ? undefined : interfaceAddress(nodeInterface);
    this.obj = await loadDatapath({
      pinDir: this.options.pinDir,
      hairpinAddress: this.options.hairpinAddress,
      ...(nodeAddress ? { nodeAddress } : {}),
      ...(this.options.conntrack ? { conntrack: this.options.conntrack } : {}),
      onReplacedPin: (map) => log.warn({ map }, 'pinned map of an earlier layout replaced'),
    });
    this.reconciler = new Reconciler(new KernelServiceMaps(native(), openServiceMaps(this.obj)));
    this.ct = this.obj.map('ct_v4');
    this.stats = this.obj.map('stats');
    log.info({ pinDir: this.options.pinDir, adopted: this.reconciler.state.frontends.size }, 'datapath loaded');

    // Nothing is written before the source's first complete read: an agent that restarts never
    // programs (and so never flushes to) an empty state it has not read yet.
    const firstProgramming = new Promise<void>((resolve) => (this.afterFirstProgramming = resolve));
    this.stopSource = await this.options.source((event) => this.onEvent(event));
    await firstProgramming;

    const exclude = new Set(nodeInterface === undefined ? [] : [nodeInterface]);
    this.interfaces = new InterfaceWatcher(native(), { fromPod: this.obj.program(Programs.fromPod), toPod: this.obj.program(Programs.toPod) }, log, exclude);
    await this.interfaces.start();
    if (nodeInterface !== undefined) {
      acceptLocalSource(nodeInterface);
      native().xdpAttach({ ifname: nodeInterface }, this.obj.program(Programs.fromWorld));
      native().tcAttach({ ifname: nodeInterface }, 'egress', this.obj.program(Programs.toWorld));
      log.info({ ifname: nodeInterface, address: nodeAddress }, 'serving outside traffic on the node interface');
    }
    if (this.options.hostCgroup !== undefined) {
      for (const [hook, program] of Object.entries(SocketPrograms) as [CgroupHook, string][]) {
        native().cgroupAttach(this.options.hostCgroup, this.obj.program(program), hook);
      }
      log.info({ cgroup: this.options.hostCgroup }, 'serving host-network clients of the cgroup');
    }

    if (this.options.adminAddress) {
      const { host, port } = parseHostPort(this.options.adminAddress);
      const source = agentAdminSource(this.obj, this.ct, {
        status: () => this.status(),
        counters: () => this.counters(),
        metrics: () => this.metrics.render(),
        services: () => this.services,
      });
      this.admin = await buildAdminServer(source, this.options.adminToken === undefined ? {} : { token: this.options.adminToken });
      await this.admin.listen({ host, port });
      log.info({ address: this.options.adminAddress }, 'admin API listening');
    }
    const every = (ms: number, job: () => void): void => {
      this.housekeeping.push(setInterval(job, ms).unref());
    };
    every(this.options.conntrackGcIntervalMs ?? 30_000, () => this.collectConntrack());
    every(this.options.repairIntervalMs ?? 60_000, () => this.repair());
    this.statusValue.ready = this.statusValue.lastError === null;
    this.options.onSynced?.(this.status());
  }

  /** Deletes expired flows; warns while the table is nearly full. */
  private collectConntrack(): void {
    if (!this.ct || this.stopped) return;
    try {
      const { entries, deleted } = collectExpired(this.ct, process.hrtime.bigint());
      this.metrics.conntrackCollected.inc(deleted);
      const capacity = this.ct.info.maxEntries;
      if (entries - deleted >= capacity * CT_NEARLY_FULL) {
        this.options.log.warn(
          { live: entries - deleted, capacity },
          'conntrack table nearly full: new flows evict the least recently used; an evicted TCP flow that sends again is balanced afresh (counted as ct_midflow)',
        );
      }
    } catch (err) {
      this.options.log.error({ err }, 'conntrack collection failed');
    }
  }

  /** Rewrites what was changed in the maps behind the agent's back (not while a retry is pending: it compares everything itself). */
  private repair(): void {
    if (!this.reconciler || this.stopped || this.retryTimer !== undefined) return;
    try {
      const { ops } = this.reconciler.repair();
      if (ops > 0) {
        this.metrics.repairs.inc(ops);
        this.options.log.warn({ ops }, 'maps differed from the desired state: repaired');
      }
    } catch (err) {
      this.options.log.error({ err }, 'repair failed; retried at the next period');
    }
  }

  /** Leaves the pinned maps and the attached programs in place: the dataplane keeps serving. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSource?.();
    this.interfaces?.stop();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const timer of this.housekeeping) clearInterval(timer);
    this.healthChecks.close();
    await this.admin?.close();
    this.obj?.close();
  }

  status(): AgentStatus {
    return { ...this.statusValue, interfaces: this.interfaces?.interfaces ?? [] };
  }

  counters(): Counters {
    if (!this.stats) throw new KbpError(ErrorCode.DatapathNotLoaded, 'datapath not loaded');
    return readCounters(this.stats, native().possibleCpus());
  }

  /** How full each map is; batch reads where the map type has them, key walks for the small others. */
  private mapFill(): MapFill[] {
    const obj = this.obj;
    if (!obj) return [];
    return Object.entries(FILL_MAPS).map(([name, read]) => {
      const map = obj.map(name);
      try {
        return { name, entries: read === 'batch' ? map.entries().count : map.keys().length, capacity: map.info.maxEntries };
      } finally {
        map.close();
      }
    });
  }

  private onEvent(event: SourceEvent): void {
    this.pipeline.apply(event);
    if (event.type === 'synced') this.synced = true;
    // Events arriving together are programmed together, on the next turn of the event loop.
    if (!this.synced || this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (!this.stopped) this.compileAndSync();
    });
  }

  /** Compiles what the events changed, then programs it. */
  private compileAndSync(): void {
    const compiled = this.pipeline.compile();
    this.triggers.push(...compiled.triggeredAt);
    this.services = compiled.services;
    const refusalsChanged = this.setRejected(compiled.rejected);
    // An event that changed nothing (a resync, a re-read of unchanged files) programs nothing.
    if (compiled.changes.size === 0 && !refusalsChanged && !this.afterFirstProgramming) return;
    this.sync(compiled.changes);
    this.afterFirstProgramming?.();
    this.afterFirstProgramming = undefined;
  }

  /** Records what is not served; true when that differs from before. */
  private setRejected(rejected: Rejection[]): boolean {
    const s = this.statusValue;
    // Each refusal is logged once, when it appears, not on every re-read of an unchanged source.
    const before = new Set(s.rejected.map(rejectionText));
    const fresh = rejected.filter((r) => !before.has(rejectionText(r)));
    for (const r of fresh) this.options.log.warn(r, 'object not served');
    const changed = fresh.length > 0 || rejected.length !== s.rejected.length;
    s.rejected = rejected;
    this.metrics.setRejected(rejected);
    return changed;
  }

  /** Programs the changes; on failure, one retry timer brings the maps to the desired state later. */
  private sync(changes: ReadonlyMap<string, LbService | null>): void {
    if (!this.reconciler) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const s = this.statusValue;
    s.nextRetryAt = null;
    this.metrics.retryDelay.set(0);
    try {
      const result = this.reconciler.apply(changes);
      this.metrics.syncDuration.observe(result.durationMs / 1000);
      const programmedAt = Date.now();
      for (const t of this.triggers) this.metrics.networkProgramming.observe(Math.max(0, programmedAt - t) / 1000);
      this.triggers = [];
      if (result.staleUdpFlows.size > 0 && this.ct) {
        const cleared = purgeFlows(this.ct, result.staleUdpFlows);
        this.options.log.info({ flows: result.staleUdpFlows.size, entries: cleared }, 'cleared UDP flows of removed backends');
      }
      this.healthChecks.update(this.services);
      this.metrics.lastSync.setToCurrentTime();
      s.generation++;
      s.lastSyncAt = new Date().toISOString();
      s.lastError = null;
      s.lastSyncOps = result.ops;
      s.lastSyncMs = result.durationMs;
      s.services = this.services.length;
      s.backends = this.reconciler.state.backends.size;
      this.backoff.succeed();
      s.consecutiveFailures = 0;
      this.options.log.info({ generation: s.generation, ops: result.ops, ms: Math.round(result.durationMs * 100) / 100 }, 'synced');
      if (s.ready) this.options.onSynced?.(this.status());
    } catch (err) {
      s.lastError = (err as Error).message;
      this.metrics.syncFailures.inc();
      const delayMs = this.backoff.fail();
      s.consecutiveFailures = this.backoff.consecutiveFailures;
      s.nextRetryAt = new Date(Date.now() + delayMs).toISOString();
      this.metrics.retryDelay.set(delayMs / 1000);
      this.options.log.error({ err, retryMs: Math.round(delayMs), failures: s.consecutiveFailures }, 'sync failed; the last good state keeps serving');
      // The desired state already holds the changes: the retry compares everything against the maps.
      this.retryTimer = setTimeout(() => this.sync(new Map()), delayMs);
    }
  }
}
