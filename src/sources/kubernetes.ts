// The Kubernetes API as a source: informers (list + watch, resourceVersion, re-list on 410) for
// Services, EndpointSlices and this node's Node, each of their callbacks one event. When the API
// server is unreachable the informers retry with backoff and jitter while the dataplane keeps
// serving the last programmed state.
import { CoreV1Api, DiscoveryV1Api, KubeConfig, ListWatch, Watch, type Informer, type KubernetesObject } from '@kubernetes/client-node';
import { ErrorCode, KbpError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ObjectKind, Source, SourceEvent } from '../model/events.js';
import type { NodeConfig } from '../model/types.js';
import { objectKey } from '../model/validate.js';

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

export function kubernetesSource(options: KubernetesSourceOptions): Source {
  return async (emit) => {
    const kc = loadKubeConfig(options.kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    const nodeSelector = `metadata.name=${options.node.name}`;
    const log = options.log.child({ source: 'kubernetes', server: kc.getCurrentCluster()?.server });
    let stopped = false;
    const timers = new Set<NodeJS.Timeout>();

    const watch = <T extends KubernetesObject>(kind: ObjectKind, path: string, list: () => Promise<{ items: T[] }>, fieldSelector?: string): ListWatch<T> => {
      const informer = new ListWatch<T>(path, new Watch(kc), list, false, undefined, fieldSelector);
      // The informer announces 'connect' before every attempt, so only an event proves a working
      // watch and resets the backoff.
      let retryMs = RETRY_MIN_MS;
      const event = (e: SourceEvent): void => {
        retryMs = RETRY_MIN_MS;
        emit(e);
      };
      informer.on('add', (object) => event({ type: 'upsert', kind, object }));
      informer.on('update', (object) => event({ type: 'upsert', kind, object }));
      informer.on('delete', (object) => event({ type: 'delete', kind, key: objectKey(object, kind) }));
      informer.on('error', (err: unknown) => {
        if (stopped) return;
        const delay = retryMs * (0.5 + Math.random());
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
        log.warn(
          { err: err instanceof Error ? err.message : String(err), kind, retryMs: Math.round(delay) },
          'watch failed; retrying while the dataplane keeps serving',
        );
        const timer = setTimeout(() => {
          timers.delete(timer);
          informer.start().catch(() => undefined); // a failed start reports through 'error' again
        }, delay);
        timers.add(timer);
      });
      return informer;
    };

    // Only this node's object: its zone (topology hints) and addresses (node ports).
    const nodeInformer = watch('Node', '/api/v1/nodes', () => core.listNode({ fieldSelector: nodeSelector }), nodeSelector);
    const informers = [
      watch('Service', '/api/v1/services', () => core.listServiceForAllNamespaces()),
      watch('EndpointSlice', '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces()),
      nodeInformer,
    ];
    const stop = (): void => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      for (const i of informers) void i.stop();
    };
    // Synced only once every initial list is in: programming a partial cluster would take services
    // away that are merely not listed yet.
    await startAndWaitForLists(informers);
    // A wrong node name would classify every endpoint as remote: refuse rather than serve wrongly.
    if (nodeInformer.list().length === 0) {
      stop();
      throw new KbpError(
        ErrorCode.NodeNotFound,
        `the cluster has no Node "${options.node.name}": set --node-name (or NODE_NAME) to this node's name as the cluster knows it`,
      );
    }
    emit({ type: 'synced' });
    return stop;
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
