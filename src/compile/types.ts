// What the compiler produces: the desired load-balancer state, keyed by natural keys only.
// Kernel ids (svc_id, backend_id, revnat_id) are assigned later by src/dataplane, so that this stays pure.
import type { Protocol } from '../model/types.js';

/**
 * internal: reached from pods (tc); external: reached from outside the node (xdp), e.g. NodePort;
 * localOrigin: the external frontends of a Local-policy service as this node's pods and host reach
 * them, served by every cluster endpoint (kube-proxy short-circuits locally originated traffic).
 */
export type FrontendScope = 'internal' | 'external' | 'localOrigin';

/** What a frontend does with a new flow when no backend may take it. */
export type WhenEmpty = 'reject' | 'drop';

/** How a frontend came about: the cluster IP, a node port, an external IP or a load-balancer IP. */
export type FrontendKind = 'clusterIP' | 'nodePort' | 'externalIP' | 'loadBalancerIP';

export interface LbFrontend {
  address: string; // dotted IPv4
  port: number;
  protocol: Protocol;
  scope: FrontendScope;
  kind: FrontendKind;
}

export interface LbBackend {
  address: string; // dotted IPv4
  port: number;
  protocol: Protocol;
  /** The endpoint is terminating: chosen for new flows only when no ready endpoint exists. */
  terminating: boolean;
  /** The endpoint runs on this node. */
  local: boolean;
}

/**
 * One load-balanced service as the datapath sees it: one Service port (and scope) with its frontends,
 * the backends it knows and the Maglev table over the backends that may take new flows.
 */
export interface LbService {
  /** Unique and stable: "namespace/name:portName/scope" (portName may be empty). */
  key: string;
  /** "namespace/name" of the Kubernetes Service. */
  service: string;
  portName: string;
  scope: FrontendScope;
  frontends: LbFrontend[];
  /**
   * Every endpoint of this port that existing flows may still use, sorted by "address:port/protocol".
   * Endpoints not in `table` stay here so established connections to them keep working.
   */
  backends: LbBackend[];
  /** Maglev lookup table: each slot is an index into `backends`. Empty when no backend may take new flows. */
  table: Uint32Array;
  /** ClientIP session affinity timeout in seconds; 0 when affinity is off. */
  affinityTimeoutSeconds: number;
  /**
   * Without a backend for new flows: refuse (TCP RST / ICMP port unreachable), or drop silently when a
   * Local traffic policy leaves this node none while other nodes have endpoints (kube-proxy's nftables
   * proxier, syncProxyRules: internal/externalTrafficFilterVerdict).
   */
  whenEmpty: WhenEmpty;
  /** An external service whose pods and host clients are served by its localOrigin twin instead. */
  localOriginTwin: boolean;
  /** loadBalancerSourceRanges (IPv4 CIDRs) that load-balancer IP frontends admit; empty: any source. */
  sourceRanges: string[];
  /** The node port answering health checks for this node (externalTrafficPolicy Local), or null. */
  healthCheckNodePort: number | null;
}

export function backendKey(b: { address: string; port: number; protocol: string }): string {
  return `${b.address}:${b.port}/${b.protocol}`;
}

/** How many Maglev slots each backend (by index into `backends`) holds. */
export function slotCounts(svc: LbService): number[] {
  const counts = new Array<number>(svc.backends.length).fill(0);
  for (const index of svc.table) counts[index] = (counts[index] ?? 0) + 1;
  return counts;
}

export function frontendKey(f: LbFrontend): string {
  return `${f.address}:${f.port}/${f.protocol}/${f.scope}`;
}
