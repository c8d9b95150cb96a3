// The agent's own view of Services and EndpointSlices: validated once at the edge, then trusted.
import { Type, type Static } from 'typebox';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ServicePort {
  name: string;
  protocol: Protocol;
  port: number;
  /** A number, or the name of a container port resolved through the EndpointSlice's ports. */
  targetPort: number | string;
  nodePort: number | null;
}

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
export type TrafficPolicy = 'Cluster' | 'Local';

export interface Service {
  /** "namespace/name" */
  key: string;
  namespace: string;
  name: string;
  type: ServiceType;
  /** IPv4 cluster IPs; empty for headless and ExternalName services. */
  clusterIPs: string[];
  /** IPv6 addresses among the cluster IPs, external IPs and load-balancer IPs: reported, not served. */
  ipv6Addresses: string[];
  /** spec.externalIPs (IPv4). */
  externalIPs: string[];
  /** status.loadBalancer.ingress[].ip (IPv4) of a LoadBalancer service. */
  loadBalancerIPs: string[];
  /** spec.loadBalancerSourceRanges as CIDRs; empty means any source. */
  loadBalancerSourceRanges: string[];
  headless: boolean;
  ports: ServicePort[];
  /** ClientIP affinity timeout in seconds, 0 when affinity is off. */
  affinityTimeoutSeconds: number;
  internalTrafficPolicy: TrafficPolicy;
  externalTrafficPolicy: TrafficPolicy;
  /** The node port on which this node reports whether it has local endpoints (externalTrafficPolicy Local). */
  healthCheckNodePort: number | null;
  /** Set when another proxy owns the service (label service.kubernetes.io/service-proxy-name). */
  proxyName: string | null;
}

export interface Endpoint {
  address: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName: string | null;
  zone: string | null;
  /** Topology hints set by the EndpointSlice controller (trafficDistribution, topology-aware routing). */
  zoneHints: string[];
  nodeHints: string[];
}

/** How the agent is told to see its node (flags): its name, and node-port addresses when chosen. */
export interface NodeConfig {
  name: string;
  /** From --nodeport-addresses: the addresses node ports are served on, instead of the Node object's. */
  nodePortAddresses?: string[];
}

/** This node as the compiler needs it: which endpoints are local, which zone, which addresses. */
export interface NodeInfo {
  name: string;
  /** Label topology.kubernetes.io/zone. */
  zone: string | null;
  /** IPv4 addresses on which node ports are served. */
  addresses: string[];
}

export interface EndpointSlicePort {
  name: string;
  port: number;
  protocol: Protocol;
}

export interface EndpointSlice {
  /** "namespace/name" */
  key: string;
  namespace: string;
  /** "namespace/service-name", from the kubernetes.io/service-name label. */
  serviceKey: string;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  ports: EndpointSlicePort[];
  endpoints: Endpoint[];
}

/** An object refused at the edge, and why (the admin API serves it with this schema). The rest keeps working. */
export const Rejection = Type.Object({ kind: Type.String(), key: Type.String(), reason: Type.String() });
export type Rejection = Static<typeof Rejection>;
