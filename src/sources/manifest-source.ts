// The manifest directory as the agent's source: each snapshot of files is validated and compiled.
import type { DesiredSnapshot, SnapshotSource } from '../agent/agent.js';
import { compile } from '../compile/compile.js';
import type { Logger } from '../log.js';
import { ClusterState } from '../model/state.js';
import type { NodeConfig, Rejection } from '../model/types.js';
import { watchManifests, type ManifestSnapshot } from './manifests.js';

export function compileSnapshot(snapshot: ManifestSnapshot, node: NodeConfig): DesiredSnapshot {
  const state = new ClusterState(node);
  const rejected: Rejection[] = [...snapshot.rejected];
  for (const obj of snapshot.objects) {
    const r = state.upsert(obj);
    if ('rejection' in r) rejected.push(r.rejection);
  }
  const compiled = compile(state);
  return { services: compiled.services, rejected: [...rejected, ...compiled.skipped] };
}

export function manifestSource(dir: string, options: { node: NodeConfig; log: Logger }): SnapshotSource {
  return async (onSnapshot) => {
    options.log.info({ dir }, 'watching manifests');
    return watchManifests(dir, (snapshot) => onSnapshot(compileSnapshot(snapshot, options.node)), {
      onError: (err) => options.log.error({ err, dir }, 'cannot read the manifest directory; the last good state keeps serving'),
    });
  };
}
