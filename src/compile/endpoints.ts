// Which endpoints may take new flows, after kube-proxy's CategorizeEndpoints (pkg/proxy/topology.go):
// ready endpoints; when none is ready, the serving terminating ones (KEP-1669); with
// internalTrafficPolicy Local, the same choice among this node's endpoints only.
import type { Endpoint, TrafficPolicy } from '../model/types.js';

export interface SelectionContext {
  nodeName: string;
  internalTrafficPolicy: TrafficPolicy;
}

function usableAmong(endpoints: readonly Endpoint[]): Endpoint[] {
  const ready = endpoints.filter((e) => e.ready);
  return ready.length > 0 ? ready : endpoints.filter((e) => e.serving && e.terminating);
}

export function endpointsForNewFlows(endpoints: readonly Endpoint[], ctx: SelectionContext): Endpoint[] {
  const candidates = ctx.internalTrafficPolicy === 'Local' ? endpoints.filter((e) => e.nodeName === ctx.nodeName) : endpoints;
  return usableAmong(candidates);
}
