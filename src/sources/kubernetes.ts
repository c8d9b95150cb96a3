// The Kubernetes API as the agent's source: informers (list + watch, resourceVersion, re-list on 410)
// for Services, EndpointSlices and this node's Node feed the ClusterState; only the services an event touches are
// recompiled. When the API server is unreachable the informers retry with backoff and jitter while
// the dataplane keeps serving the last programmed state.
import { CoreV1Api, DiscoveryV1Api, KubeConfig, ListWatch, Watch, type Informer, type KubernetesObject } from '@kubernetes/client-node';
import type { DesiredSnapshot, SnapshotSource } from '../agent/agent.js';
import { FrontendClaims } from '../compile/claims.js';
import { compileService, type CompiledService } from '../compile/compile.js';
import type { Logger } from '../log.js';
import { ClusterState } from '../model/state.js';
import type { NodeConfig, Rejection } from '../model/types.js';

export interface KubernetesSourceOptions {
  /** A kubeconfig file; without it, in-cluster config or the default kubeconfig. */
  kubeconfig?: string;
  node: NodeConfig;
  log: Logger;
}

const RETRY_MIN_MS = 500;
/** Kept short: a retry against a server that is down costs one refused connection. */
const RETRY_MAX_MS = 5_000;

export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}

type Kind = 'Service' | 'EndpointSlice' | 'Node';

/** Set by the EndpointSlice controller: when the change that produced this version happened. */
const TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';

/** Informer callbacks turned into ClusterState changes, and the compiled services kept per Service. */
export class KubernetesState {
  readonly state: ClusterState;
  private readonly compiled = new Map<string, CompiledService>();
  private readonly claims = new FrontendClaims();
  /** The non-empty `skipped` of `compiled`, so a snapshot does not walk every service for them. */
  private readonly skipped = new Map<string, Rejection[]>();
  private readonly rejected = new Map<string, Rejection>();
  private readonly dirty = new Set<string>();
  private triggers: number[] = [];

  constructor(node: NodeConfig) {
    this.state = new ClusterState(node);
  }

  upsert(kind: Kind, obj: KubernetesObject): void {
    const key = `${obj.metadata?.namespace ?? 'default'}/${obj.metadata?.name ?? '?'}`;
    // List items come without kind; the informer tells which it is.
    const r = this.state.upsert({ ...obj, kind });
    this.rejected.delete(`${kind} ${key}`);
    if ('rejection' in r) {
      this.rejected.set(`${kind} ${key}`, r.rejection);
      // An object that turned invalid stops counting, as if it were deleted; the rest keeps working.
      this.remove(kind, obj, false);
      return;
    }
    for (const k of r.affected) this.dirty.add(k);
    const trigger = Date.parse(obj.metadata?.annotations?.[TRIGGER_TIME_ANNOTATION] ?? '');
    if (kind === 'EndpointSlice' && Number.isFinite(trigger)) this.triggers.push(trigger);
  }

  remove(kind: Kind, obj: KubernetesObject, forgetRejection = true): void {
    const key = `${obj.metadata?.namespace ?? 'default'}/${obj.metadata?.name ?? '?'}`;
    if (forgetRejection) this.rejected.delete(`${kind} ${key}`);
    // A deleted Node object leaves this node's last known zone and addresses in place.
    const affected = kind === 'Service' ? this.state.deleteService(key) : kind === 'EndpointSlice' ? this.state.deleteSlice(key) : [];
    for (const k of affected) this.dirty.add(k);
  }

  get pending(): number {
    return this.dirty.size;
  }

  /** Recompiles what changed since the last call and returns the whole desired state. */
  snapshot(): DesiredSnapshot {
    for (const key of this.dirty) {
      const service = this.state.services.get(key);
      const before = this.compiled.get(key)?.services ?? [];
      const after = service ? compileService(service, this.state.slicesOf(key), { node: this.state.node }) : undefined;
      this.claims.replace(before, after?.services ?? []);
      if (after?.skipped.length) this.skipped.set(key, after.skipped);
      else this.skipped.delete(key);
      if (after) this.compiled.set(key, after);
      else this.compiled.delete(key);
    }
    this.dirty.clear();
    const changeTriggeredAt = this.triggers;
    this.triggers = [];
    const resolved = this.claims.resolve();
    return {
      services: resolved.services,
      rejected: [...this.rejected.values(), ...[...this.skipped.values()].flat(), ...resolved.skipped],
      changeTriggeredAt,
    };
  }
}

export function kubernetesSource(options: KubernetesSourceOptions): SnapshotSource {
  return async (onSnapshot) => {
    const kc = loadKubeConfig(options.kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    const cluster = new KubernetesState(options.node);
    const nodeSelector = `metadata.name=${options.node.name}`;
    const log = options.log.child({ source: 'kubernetes', server: kc.getCurrentCluster()?.server });
    let synced = false;
    let flushScheduled = false;
    let stopped = false;
    const timers = new Set<NodeJS.Timeout>();

    // Events arriving together are programmed together, on the next turn of the event loop.
    const flush = (): void => {
      if (!synced || flushScheduled) return;
      flushScheduled = true;
      setImmediate(() => {
        flushScheduled = false;
        if (!stopped) onSnapshot(cluster.snapshot());
      });
    };

    const watch = <T extends KubernetesObject>(kind: Kind, path: string, list: () => Promise<{ items: T[] }>, fieldSelector?: string): Informer<T> => {
      const informer = new ListWatch<T>(path, new Watch(kc), list as never, false, undefined, fieldSelector);
      // The informer announces 'connect' before every attempt, so only an event proves a working
      // watch and resets the backoff.
      let retryMs = RETRY_MIN_MS;
      informer.on('add', (obj) => ((retryMs = RETRY_MIN_MS), cluster.upsert(kind, obj), flush()));
      informer.on('update', (obj) => ((retryMs = RETRY_MIN_MS), cluster.upsert(kind, obj), flush()));
      informer.on('delete', (obj) => ((retryMs = RETRY_MIN_MS), cluster.remove(kind, obj), flush()));
      informer.on('error', (err: unknown) => {
        if (stopped) return;
        const delay = retryMs * (0.5 + Math.random());
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
        log.warn({ err: (err as Error)?.message ?? String(err), kind, retryMs: Math.round(delay) }, 'watch failed; retrying while the dataplane keeps serving');
        const timer = setTimeout(() => {
          timers.delete(timer);
          informer.start().catch(() => undefined); // a failed start reports through 'error' again
        }, delay);
        timers.add(timer);
      });
      return informer;
    };

    const informers = [
      watch('Service', '/api/v1/services', () => core.listServiceForAllNamespaces()),
      watch('EndpointSlice', '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces()),
      // Only this node's object: its zone (topology hints) and addresses (node ports).
      watch('Node', '/api/v1/nodes', () => core.listNode({ fieldSelector: nodeSelector }), nodeSelector),
    ];
    // The first snapshot waits for every initial list: programming a partial cluster would take
    // services away that are merely not listed yet.
    await startAndWaitForLists(informers);
    synced = true;
    onSnapshot(cluster.snapshot());
    return () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      for (const i of informers) void i.stop();
    };
  };
}

/** An informer that has completed a list knows a resourceVersion (ListWatch.latestResourceVersion). */
function hasListed(informer: Informer<KubernetesObject>): boolean {
  return !!(informer as unknown as { latestResourceVersion(): string }).latestResourceVersion();
}

/**
 * Starts the informers and waits until each has listed once. A failed list is reported through the
 * informer's 'error' callback (which schedules the retry), not by start() itself, hence the wait.
 */
async function startAndWaitForLists(informers: Informer<KubernetesObject>[]): Promise<void> {
  await Promise.all(informers.map((i) => i.start()));
  while (!informers.every(hasListed)) await new Promise((r) => setTimeout(r, 50));
}
