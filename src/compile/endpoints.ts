// Which endpoints may take new flows, after kube-proxy's CategorizeEndpoints (pkg/proxy/topology.go).
// Cluster policy: the ready endpoints, narrowed by topology hints when every ready endpoint carries
// one that fits this node; local policy: this node's ready endpoints. Either way, when none is
// ready, the serving terminating ones of the same set (KEP-1669).
import type { Endpoint, NodeInfo, TrafficPolicy } from '../model/types.js';

type NodeContext = Pick<NodeInfo, 'name' | 'zone'>;

/** Which hints apply: same node, same zone, or none (every ready endpoint must carry one for it). */
function topologyFilter(endpoints: readonly Endpoint[], node: NodeContext): ((e: Endpoint) => boolean) | null {
  const ready = endpoints.filter((e) => e.ready);
  if (ready.length === 0) return null;
  if (ready.every((e) => e.nodeHints.length > 0) && ready.some((e) => e.nodeHints.includes(node.name))) {
    return (e) => e.nodeHints.includes(node.name);
  }
  const zone = node.zone;
  if (zone !== null && ready.every((e) => e.zoneHints.length > 0) && ready.some((e) => e.zoneHints.includes(zone))) {
    return (e) => e.zoneHints.includes(zone);
  }
  return null;
}

function clusterEndpoints(endpoints: readonly Endpoint[], node: NodeContext): Endpoint[] {
  const topology = topologyFilter(endpoints, node);
  const ready = endpoints.filter((e) => e.ready && (topology === null || topology(e)));
  return ready.length > 0 ? ready : endpoints.filter((e) => e.serving && e.terminating);
}

function localEndpoints(endpoints: readonly Endpoint[], node: NodeContext): Endpoint[] {
  const local = endpoints.filter((e) => e.nodeName === node.name);
  const ready = local.filter((e) => e.ready);
  return ready.length > 0 ? ready : local.filter((e) => e.serving && e.terminating);
}

export function endpointsForNewFlows(endpoints: readonly Endpoint[], policy: TrafficPolicy, node: NodeContext): Endpoint[] {
  return policy === 'Local' ? localEndpoints(endpoints, node) : clusterEndpoints(endpoints, node);
}
