// A manifest directory as a source: each read of the files becomes the events that take the last
// read to this one (every object as an upsert, those no longer there as deletes), then `synced`.
// Upserts of unchanged objects are dropped by the change tracker, as for any source.
import type { Logger } from '../log.js';
import type { ObjectKind, Source, SourceEvent } from '../model/events.js';
import { objectKey } from '../model/validate.js';
import { watchManifests, type ManifestSnapshot } from './manifests.js';

/** A read's events, given the "kind key" of every object the previous read had; updates `seen`. */
export function manifestEvents(snapshot: ManifestSnapshot, seen: Map<string, { kind: ObjectKind; key: string }>): SourceEvent[] {
  const events: SourceEvent[] = [];
  const now = new Map<string, { kind: ObjectKind; key: string }>();
  for (const object of snapshot.objects) {
    const kind = (object as { kind: ObjectKind }).kind;
    const key = objectKey(object, kind);
    now.set(`${kind} ${key}`, { kind, key });
    events.push({ type: 'upsert', kind, object });
  }
  for (const [id, gone] of seen) if (!now.has(id)) events.push({ type: 'delete', ...gone });
  seen.clear();
  for (const [id, object] of now) seen.set(id, object);
  events.push({ type: 'unreadable', rejected: snapshot.rejected }, { type: 'synced' });
  return events;
}

export function manifestSource(dir: string, options: { log: Logger }): Source {
  return (emit) => {
    options.log.info({ dir }, 'watching manifests');
    const seen = new Map<string, { kind: ObjectKind; key: string }>();
    // The first read is made and emitted before this returns: no list to wait for.
    return Promise.resolve(
      watchManifests(dir, (snapshot) => manifestEvents(snapshot, seen).forEach(emit), {
        onError: (err) => options.log.error({ err, dir }, 'cannot read the manifest directory; the last good state keeps serving'),
      }),
    );
  };
}
