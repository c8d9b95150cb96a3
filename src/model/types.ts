// The agent's own view of Services and EndpointSlices: validated once at the edge, then trusted.
import type { Protocol } from '../compile/types.js';

export type { Protocol };

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
  headless: boolean;
  ports: ServicePort[];
  /** ClientIP affinity timeout in seconds, 0 when affinity is off. */
  affinityTimeoutSeconds: number;
  internalTrafficPolicy: TrafficPolicy;
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

/** An object refused at the edge, and why. The rest keeps working. */
export interface Rejection {
  kind: string;
  key: string;
  reason: string;
}
