// Compiled services written by hand for kernel tests, with their Maglev tables built by src/maglev.
import { backendKey, type FrontendKind, type LbService } from '../src/compile/types.js';
import type { Protocol } from '../src/model/types.js';
import { buildTable } from '../src/maglev/index.js';

export interface LbServiceOptions {
  affinityTimeoutSeconds?: number;
  /** An external service (xdp) whose frontends are of this kind; internal (tc) by default. */
  external?: FrontendKind;
  /** No backend for new flows: drop silently instead of refusing (a Local policy, endpoints elsewhere). */
  dropWhenEmpty?: boolean;
  sourceRanges?: string[];
}

export function lbService(
  key: string,
  frontends: { address: string; port: number; protocol: Protocol }[],
  backends: { address: string; port: number; protocol?: Protocol; terminating?: boolean; local?: boolean }[],
  options: LbServiceOptions = {},
): LbService {
  const protocol = frontends[0]?.protocol ?? 'TCP';
  const scope = options.external ? 'external' : 'internal';
  const full = backends
    .map((b) => ({ address: b.address, port: b.port, protocol: b.protocol ?? protocol, terminating: b.terminating ?? false, local: b.local ?? true }))
    .sort((a, b) => backendKey(a).localeCompare(backendKey(b)));
  const usable = full.filter((b) => !b.terminating);
  const { table, names } = buildTable(usable.map(backendKey));
  const indexOf = new Map(full.map((b, i) => [backendKey(b), i]));
  return {
    key: `${key}/${scope}`,
    service: key.split(':')[0] ?? key,
    portName: key.split(':')[1] ?? '',
    scope,
    frontends: frontends.map((f) => ({ ...f, scope, kind: options.external ?? 'clusterIP' })),
    backends: full,
    table: Uint32Array.from(table, (slot) => indexOf.get(names[slot] ?? '') ?? 0),
    affinityTimeoutSeconds: options.affinityTimeoutSeconds ?? 0,
    whenEmpty: options.dropWhenEmpty ? 'drop' : 'reject',
    localOriginTwin: false,
    sourceRanges: options.sourceRanges ?? [],
    healthCheckNodePort: null,
  };
}
