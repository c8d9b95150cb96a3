// Kubernetes JSON/YAML objects -> our types, or a rejection with the reason. Never throws.
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { parseCidr } from './cidr.js';
import type { EndpointSlice, NodeInfo, Rejection, Service } from './types.js';

/** Limits that keep one object from swamping the maps (Kubernetes' own API enforces similar ones). */
export const MAX_PORTS = 100;
export const MAX_ENDPOINTS_PER_SLICE = 1000;
const DEFAULT_AFFINITY_TIMEOUT = 10800;

const portNumber = z.number().int().min(1).max(65535);
const protocol = z.enum(['TCP', 'UDP', 'SCTP']).default('TCP');
/** IANA service name, as Kubernetes validates named ports. */
const portName = z
  .string()
  .max(15)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'not a valid port name');
const ip = z.string().refine((s) => isIPv4(s) || isIPv6(s), 'not an IP address');
/** Bounds the addresses one service may claim, like MAX_PORTS bounds its ports. */
export const MAX_ADDRESSES = 100;
const cidr = z
  .string()
  .transform((s) => s.trim())
  .refine((s) => parseCidr(s) !== null, 'not a CIDR');
const trafficPolicy = z.enum(['Cluster', 'Local']).default('Cluster');
const metadata = z.object({
  name: z.string().min(1),
  namespace: z.string().min(1).default('default'),
  labels: z.record(z.string(), z.string()).default({}),
});

const serviceSchema = z.object({
  kind: z.literal('Service'),
  metadata,
  spec: z.object({
    type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).default('ClusterIP'),
    clusterIP: z.union([z.literal('None'), z.literal(''), ip]).optional(),
    clusterIPs: z
      .array(z.union([z.literal('None'), ip]))
      .max(2)
      .optional(),
    ports: z
      .array(
        z.object({
          name: z.union([portName, z.literal('')]).default(''),
          protocol,
          port: portNumber,
          targetPort: z.union([portNumber, portName]).optional(),
          nodePort: portNumber.optional(),
        }),
      )
      .max(MAX_PORTS, `more than ${MAX_PORTS} ports`)
      .default([]),
    sessionAffinity: z.enum(['None', 'ClientIP']).default('None'),
    sessionAffinityConfig: z.object({ clientIP: z.object({ timeoutSeconds: z.number().int().min(1).max(86400).optional() }).optional() }).optional(),
    internalTrafficPolicy: trafficPolicy,
    externalTrafficPolicy: trafficPolicy,
    healthCheckNodePort: portNumber.optional(),
    externalIPs: z.array(ip).max(MAX_ADDRESSES, `more than ${MAX_ADDRESSES} external IPs`).default([]),
    loadBalancerSourceRanges: z.array(cidr).max(MAX_ADDRESSES, `more than ${MAX_ADDRESSES} source ranges`).default([]),
  }),
  status: z
    .object({
      loadBalancer: z
        .object({
          ingress: z
            .array(z.object({ ip: ip.optional() }))
            .max(MAX_ADDRESSES, `more than ${MAX_ADDRESSES} ingress points`)
            .nullish(),
        })
        .nullish(),
    })
    .nullish(),
});

const nodeSchema = z.object({
  kind: z.literal('Node'),
  metadata: z.object({ name: z.string().min(1), labels: z.record(z.string(), z.string()).default({}) }),
  status: z.object({ addresses: z.array(z.object({ type: z.string(), address: z.string() })).nullish() }).nullish(),
});

const sliceSchema = z.object({
  kind: z.literal('EndpointSlice'),
  metadata: metadata.extend({
    labels: z
      .record(z.string(), z.string())
      .default({})
      .refine((l) => !!l['kubernetes.io/service-name'], 'missing label kubernetes.io/service-name'),
  }),
  addressType: z.enum(['IPv4', 'IPv6', 'FQDN']),
  ports: z
    .array(z.object({ name: z.union([portName, z.literal('')]).default(''), port: portNumber, protocol }))
    .max(MAX_PORTS, `more than ${MAX_PORTS} ports`)
    .nullish(),
  endpoints: z
    .array(
      z.object({
        addresses: z.array(z.string()).min(1).max(100),
        conditions: z.object({ ready: z.boolean().nullish(), serving: z.boolean().nullish(), terminating: z.boolean().nullish() }).default({}),
        nodeName: z.string().nullish(),
        zone: z.string().nullish(),
        hints: z
          .object({
            forZones: z.array(z.object({ name: z.string() })).nullish(),
            forNodes: z.array(z.object({ name: z.string() })).nullish(),
          })
          .nullish(),
      }),
    )
    .max(MAX_ENDPOINTS_PER_SLICE, `more than ${MAX_ENDPOINTS_PER_SLICE} endpoints`)
    .nullish(),
});

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(object)'}: ${i.message}`).join('; ');
}

/**
 * The key of a raw object, as far as it can be told: "namespace/name" (a missing namespace is
 * "default"), a Node's name alone (nodes have no namespace).
 */
export function objectKey(obj: unknown, kind?: string): string {
  const m = (obj as { metadata?: { namespace?: unknown; name?: unknown } } | null)?.metadata;
  const name = typeof m?.name === 'string' ? m.name : '?';
  return kind === 'Node' ? name : `${typeof m?.namespace === 'string' ? m.namespace : 'default'}/${name}`;
}

function duplicate(names: string[]): string | undefined {
  return names.find((n, i) => names.indexOf(n) !== i);
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

export function parseService(obj: unknown): Parsed<Service> {
  const reject = (reason: string): Parsed<Service> => ({ ok: false, rejection: { kind: 'Service', key: objectKey(obj), reason } });
  const r = serviceSchema.safeParse(obj);
  if (!r.success) return reject(describe(r.error));
  const { metadata: meta, spec } = r.data;
  if (spec.ports.length > 1 && spec.ports.some((p) => p.name === '')) return reject('every port of a multi-port service needs a name');
  const dup = duplicate(spec.ports.map((p) => p.name));
  if (dup !== undefined) return reject(`duplicate port name "${dup}"`);
  const ips = spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []);
  const headless = ips.includes('None') || meta.labels['service.kubernetes.io/headless'] !== undefined;
  const served = spec.type !== 'ExternalName' && !headless;
  const balanced = spec.type === 'LoadBalancer';
  const ingress = balanced ? (r.data.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : [])) : [];
  const addresses = served ? [...ips.filter((a) => a !== 'None'), ...spec.externalIPs, ...ingress] : [];
  return {
    ok: true,
    value: {
      key: `${meta.namespace}/${meta.name}`,
      namespace: meta.namespace,
      name: meta.name,
      type: spec.type,
      clusterIPs: served ? ips.filter((a) => isIPv4(a)) : [],
      ipv6Addresses: addresses.filter((a) => isIPv6(a)),
      externalIPs: served ? spec.externalIPs.filter((a) => isIPv4(a)) : [],
      loadBalancerIPs: ingress.filter((a) => isIPv4(a)),
      loadBalancerSourceRanges: balanced ? spec.loadBalancerSourceRanges : [],
      headless,
      ports: spec.ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port, targetPort: p.targetPort ?? p.port, nodePort: p.nodePort ?? null })),
      affinityTimeoutSeconds: spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT) : 0,
      internalTrafficPolicy: spec.internalTrafficPolicy,
      externalTrafficPolicy: spec.externalTrafficPolicy,
      healthCheckNodePort: spec.healthCheckNodePort ?? null,
      proxyName: meta.labels['service.kubernetes.io/service-proxy-name'] ?? null,
    },
  };
}

export function parseEndpointSlice(obj: unknown): Parsed<EndpointSlice> {
  const reject = (reason: string): Parsed<EndpointSlice> => ({ ok: false, rejection: { kind: 'EndpointSlice', key: objectKey(obj), reason } });
  const r = sliceSchema.safeParse(obj);
  if (!r.success) return reject(describe(r.error));
  const { metadata: meta, addressType } = r.data;
  const ports = r.data.ports ?? [];
  const dup = duplicate(ports.map((p) => `${p.name}/${p.protocol}`));
  if (dup !== undefined) return reject(`duplicate port "${dup}"`);
  const endpoints = r.data.endpoints ?? [];
  const valid = addressType === 'IPv4' ? isIPv4 : addressType === 'IPv6' ? isIPv6 : () => true;
  const bad = endpoints.flatMap((e) => e.addresses).find((a) => !valid(a));
  if (bad !== undefined) return reject(`endpoint address "${bad}" is not ${addressType}`);
  return {
    ok: true,
    value: {
      key: `${meta.namespace}/${meta.name}`,
      namespace: meta.namespace,
      serviceKey: `${meta.namespace}/${meta.labels['kubernetes.io/service-name']}`,
      addressType,
      ports: ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
      // Kubernetes: the addresses of one endpoint are fungible and consumers use the first (as kube-proxy
      // does); a missing ready means ready, a missing serving means as ready, a missing terminating not.
      endpoints: endpoints.map((e) => {
        const ready = e.conditions.ready ?? true;
        const address = e.addresses[0] ?? '';
        return {
          address,
          ready,
          serving: e.conditions.serving ?? ready,
          terminating: e.conditions.terminating ?? false,
          nodeName: e.nodeName ?? null,
          zone: e.zone ?? null,
          zoneHints: (e.hints?.forZones ?? []).map((h) => h.name),
          nodeHints: (e.hints?.forNodes ?? []).map((h) => h.name),
        };
      }),
    },
  };
}

/** Label that names a node's zone (topology-aware routing). */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

export function parseNode(obj: unknown): Parsed<NodeInfo> {
  const r = nodeSchema.safeParse(obj);
  if (!r.success) return { ok: false, rejection: { kind: 'Node', key: objectKey(obj, 'Node'), reason: describe(r.error) } };
  const { metadata: meta, status } = r.data;
  // Node ports are served on the node's own IPv4 addresses, as kube-proxy's "primary" default does.
  const addresses = (status?.addresses ?? []).filter((a) => (a.type === 'InternalIP' || a.type === 'ExternalIP') && isIPv4(a.address)).map((a) => a.address);
  return { ok: true, value: { name: meta.name, zone: meta.labels[ZONE_LABEL] ?? null, addresses: [...new Set(addresses)] } };
}
