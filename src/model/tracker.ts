// The change tracker: source events in, the cluster state kept, and the services whose compiled
// form may have changed since the last take() out (kube-proxy's service and endpoints change
// trackers in one). Updates that change nothing are dropped here, so nothing downstream sees them.
import { ClusterState } from './state.js';
import type { ObjectKind, SourceEvent } from './events.js';
import type { NodeConfig, Rejection } from './types.js';

/** Set by the EndpointSlice controller: when the change that produced this version happened. */
const TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';

export interface TrackedChanges {
  /** "namespace/name" of every service to recompile. */
  services: Set<string>;
  /** When the endpoint changes among them were triggered (epoch ms): where programming latency starts. */
  triggeredAt: number[];
}

export class ChangeTracker {
  readonly state: ClusterState;
  /** Objects refused at validation, by "kind namespace/name"; they count as deleted. */
  private readonly refused = new Map<string, Rejection>();
  private unreadable: Rejection[] = [];
  private dirty = new Set<string>();
  private triggers: number[] = [];

  constructor(node: NodeConfig) {
    this.state = new ClusterState(node);
  }

  apply(event: SourceEvent): void {
    switch (event.type) {
      case 'upsert':
        this.upsert(event.kind, event.object);
        break;
      case 'delete':
        this.refused.delete(`${event.kind} ${event.key}`);
        this.remove(event.kind, event.key);
        break;
      case 'unreadable':
        this.unreadable = event.rejected;
        break;
      case 'synced':
        break;
    }
  }

  /** Services changed since the last call. */
  get pending(): number {
    return this.dirty.size;
  }

  take(): TrackedChanges {
    const changes = { services: this.dirty, triggeredAt: this.triggers };
    this.dirty = new Set();
    this.triggers = [];
    return changes;
  }

  /** What the sources could not read and the objects refused, in the order they came. */
  rejections(): Rejection[] {
    return [...this.unreadable, ...this.refused.values()];
  }

  private upsert(kind: ObjectKind, obj: unknown): void {
    // List items come without kind; the event tells which it is.
    const r = this.state.upsert({ ...(obj as object), kind });
    if ('rejection' in r) {
      this.refused.set(`${kind} ${r.rejection.key}`, r.rejection);
      // An object that turned invalid stops counting, as if it were deleted; the rest keeps working.
      this.remove(kind, r.rejection.key);
      return;
    }
    this.refused.delete(`${kind} ${r.key}`);
    for (const k of r.affected) this.dirty.add(k);
    const trigger = Date.parse((obj as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations?.[TRIGGER_TIME_ANNOTATION] ?? '');
    if (kind === 'EndpointSlice' && r.affected.length > 0 && Number.isFinite(trigger)) this.triggers.push(trigger);
  }

  private remove(kind: ObjectKind, key: string): void {
    // A deleted Node object leaves this node's last known zone and addresses in place.
    const affected = kind === 'Service' ? this.state.deleteService(key) : kind === 'EndpointSlice' ? this.state.deleteSlice(key) : [];
    for (const k of affected) this.dirty.add(k);
  }
}
