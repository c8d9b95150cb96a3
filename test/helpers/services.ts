// Compiled services written by hand for kernel tests, with their Maglev tables built by src/maglev.
import { backendKey, type LbService, type Protocol } from '../../src/compile/types.js';
import { buildTable } from '../../src/maglev/index.js';

export function lbService(
  key: string,
  frontends: { address: string; port: number; protocol: Protocol }[],
  backends: { address: string; port: number; protocol?: Protocol; terminating?: boolean }[],
  options: { affinityTimeoutSeconds?: number } = {},
): LbService {
  const protocol = frontends[0]?.protocol ?? 'TCP';
  const full = backends
    .map((b) => ({ address: b.address, port: b.port, protocol: b.protocol ?? protocol, terminating: b.terminating ?? false, local: true }))
    .sort((a, b) => backendKey(a).localeCompare(backendKey(b)));
  const usable = full.filter((b) => !b.terminating);
  const { table, names } = buildTable(usable.map(backendKey));
  const indexOf = new Map(full.map((b, i) => [backendKey(b), i]));
  return {
    key: `${key}/internal`,
    service: key.split(':')[0] ?? key,
    portName: key.split(':')[1] ?? '',
    scope: 'internal',
    frontends: frontends.map((f) => ({ ...f, scope: 'internal' as const, kind: 'clusterIP' as const })),
    backends: full,
    table: Uint32Array.from(table, (slot) => indexOf.get(names[slot] ?? '') ?? 0),
    affinityTimeoutSeconds: options.affinityTimeoutSeconds ?? 0,
    localOnly: false,
    sourceRanges: [],
    healthCheckNodePort: null,
  };
}
