// What a source tells the agent, and nothing more: objects as they come, change and go, raw. They
// are validated after, by the change tracker, so every source gets the same rules.
import type { Rejection } from './types.js';

export type ObjectKind = 'Service' | 'EndpointSlice' | 'Node';

export type SourceEvent =
  /** An object was added or changed (the whole object, as the API or the file holds it). */
  | { type: 'upsert'; kind: ObjectKind; object: unknown }
  /** An object is gone; `key` is "namespace/name" (a Node's name alone). */
  | { type: 'delete'; kind: ObjectKind; key: string }
  /** What the source itself could not read (a broken manifest file), replacing what it said before. */
  | { type: 'unreadable'; rejected: Rejection[] }
  /** Everything said so far is one consistent whole (a complete list): it may be programmed. */
  | { type: 'synced' };

/**
 * A source emits events until the returned function stops it. Its first `synced` comes only after a
 * complete initial read: programming a partial cluster would take away services not listed yet.
 */
export type Source = (emit: (event: SourceEvent) => void) => Promise<() => void>;
