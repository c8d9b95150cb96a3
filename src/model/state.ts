// The cluster as the agent knows it: services and endpoint slices by "namespace/name", with slices
// indexed by their service so a change touches only the services it concerns, and this node. An
// update that leaves an object as it was (a resync, a status or annotation change we do not read)
// touches nothing.
import { isDeepStrictEqual } from 'node:util';
import type { EndpointSlice, NodeConfig, NodeInfo, Rejection, Service } from './types.js';
import { parseEndpointSlice, parseNode, parseService } from './validate.js';

export class ClusterState {
  readonly services = new Map<string, Service>();
  readonly slices = new Map<string, EndpointSlice>();
  private readonly slicesByService = new Map<string, Set<string>>();
  /** This node; until its Node object is seen, a node without zone or addresses. */
  node: NodeInfo;

  constructor(private readonly config: NodeConfig) {
    this.node = { name: config.name, zone: null, addresses: config.nodePortAddresses ?? [] };
  }

  get nodeName(): string {
    return this.config.name;
  }

  /** Validates and stores a Service, EndpointSlice or this node's Node; returns its key and the affected service keys, or the rejection. */
  upsert(obj: unknown): { key: string; affected: string[] } | { rejection: Rejection } {
    const kind = (obj as { kind?: unknown } | null)?.kind;
    if (kind === 'Node') {
      const r = parseNode(obj);
      if (!r.ok) return { rejection: r.rejection };
      const node = { ...r.value, addresses: this.config.nodePortAddresses ?? r.value.addresses };
      if (node.name !== this.nodeName || sameNode(node, this.node)) return { key: node.name, affected: [] };
      this.node = node;
      return { key: node.name, affected: [...this.services.keys()] }; // zone and addresses reach into every service
    }
    if (kind === 'Service') {
      const r = parseService(obj);
      if (!r.ok) return { rejection: r.rejection };
      if (isDeepStrictEqual(this.services.get(r.value.key), r.value)) return { key: r.value.key, affected: [] };
      this.services.set(r.value.key, r.value);
      return { key: r.value.key, affected: [r.value.key] };
    }
    if (kind === 'EndpointSlice') {
      const r = parseEndpointSlice(obj);
      if (!r.ok) return { rejection: r.rejection };
      const previous = this.slices.get(r.value.key);
      if (isDeepStrictEqual(previous, r.value)) return { key: r.value.key, affected: [] };
      if (previous) this.unindex(previous);
      this.slices.set(r.value.key, r.value);
      const set = this.slicesByService.get(r.value.serviceKey) ?? new Set<string>();
      set.add(r.value.key);
      this.slicesByService.set(r.value.serviceKey, set);
      return { key: r.value.key, affected: [...new Set([r.value.serviceKey, ...(previous ? [previous.serviceKey] : [])])] };
    }
    return { rejection: { kind: String(kind), key: '?', reason: `unsupported kind "${String(kind)}"` } };
  }

  deleteService(key: string): string[] {
    return this.services.delete(key) ? [key] : [];
  }

  deleteSlice(key: string): string[] {
    const slice = this.slices.get(key);
    if (!slice) return [];
    this.slices.delete(key);
    this.unindex(slice);
    return [slice.serviceKey];
  }

  slicesOf(serviceKey: string): EndpointSlice[] {
    return [...(this.slicesByService.get(serviceKey) ?? [])].flatMap((k) => this.slices.get(k) ?? []);
  }

  private unindex(slice: EndpointSlice): void {
    const set = this.slicesByService.get(slice.serviceKey);
    set?.delete(slice.key);
    if (set?.size === 0) this.slicesByService.delete(slice.serviceKey);
  }
}

function sameNode(a: NodeInfo, b: NodeInfo): boolean {
  return a.zone === b.zone && a.addresses.join() === b.addresses.join();
}
