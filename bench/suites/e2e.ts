// The end-to-end suite: fortio in the client pod against fortio servers in the backend pods, through
// the measured service's ClusterIP (or, for the floor, straight to the backends' pod addresses):
// a new TCP connection per request at a fixed offered rate and at saturation, kept-alive requests at
// saturation, UDP request/response at a fixed rate; with the kernel's system and softirq CPU time.
import { Type, type Static } from 'typebox';
import type { BenchCluster } from '../../harness/bench-bed.js';
import type { ProxyMode } from '../../harness/proxies.js';
import { LoadFigures, runLoad, type LoadSpec } from '../fortio.js';
import { kernelCpuSeconds } from '../machine.js';

export const LOADS = ['crr_fixed', 'crr_max', 'keepalive_max', 'udp_fixed'] as const;
export type LoadName = (typeof LOADS)[number];

export const LoadRun = Type.Object({
  figures: LoadFigures,
  /** Kernel CPU seconds (all CPUs) during the load: system and softirq. */
  cpu: Type.Object({ system: Type.Number(), softirq: Type.Number() }),
  /** The fortio command lines, one per client process. */
  commands: Type.Array(Type.Array(Type.String())),
});
export const E2eRound = Type.Record(Type.String(), LoadRun);
export type E2eRound = Static<typeof E2eRound>;

export interface E2eOptions {
  fortio: string;
  seconds: number;
  /** Offered rate of the fixed-rate loads, over all client processes. */
  rate: number;
  /** Client processes: the floor sends each to one backend, the proxied modes all to the VIP. */
  processes: number;
  /** Connections over all client processes: at the fixed rate, and at saturation (enough to keep the CPUs busy). */
  connections: { fixed: number; max: number };
}

function spec(name: LoadName, mode: ProxyMode, cluster: BenchCluster, o: E2eOptions): LoadSpec {
  const m = cluster.measured;
  const udp = name === 'udp_fixed';
  const target = (i: number): string => {
    const host = mode === 'none' ? (m.endpoints[i % m.endpoints.length] ?? m.clusterIP) : m.clusterIP;
    const port = udp ? 8078 : mode === 'none' ? 8080 : m.httpPort;
    return udp ? `udp://${host}:${port}/` : `http://${host}:${port}/`;
  };
  return {
    targets: Array.from({ length: o.processes }, (_, i) => target(i)),
    connections: name.endsWith('_max') ? o.connections.max : o.connections.fixed,
    qps: name.endsWith('_fixed') ? o.rate : 0,
    seconds: o.seconds,
    newConnectionPerRequest: name.startsWith('crr'),
  };
}

export async function runE2e(mode: ProxyMode, cluster: BenchCluster, clientNs: string, o: E2eOptions): Promise<E2eRound> {
  const out: E2eRound = {};
  for (const name of LOADS) {
    const before = kernelCpuSeconds();
    const { figures, commands } = await runLoad(o.fortio, clientNs, spec(name, mode, cluster, o));
    const after = kernelCpuSeconds();
    out[name] = {
      figures,
      cpu: { system: Math.round((after.system - before.system) * 100) / 100, softirq: Math.round((after.softirq - before.softirq) * 100) / 100 },
      commands,
    };
  }
  return out;
}
