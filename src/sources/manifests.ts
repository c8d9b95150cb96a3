// A directory of manifests as the source of Services, EndpointSlices and Nodes: every *.yaml, *.yml and
// *.json file in it (multi-document YAML and `kind: List` included), re-read whenever it changes.
import { readdirSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ErrorCode, KbpError } from '../errors.js';
import type { Rejection } from '../model/types.js';

export interface ManifestSnapshot {
  /** Objects of the kinds we serve, in file order. */
  objects: unknown[];
  /** Files that could not be read or parsed (code KBP_INVALID_MANIFEST); objects of other kinds are skipped. */
  rejected: (Rejection & { code: string })[];
}

const SERVED_KINDS = new Set(['Service', 'EndpointSlice', 'Node']);
const MANIFEST_FILE = /^[^.].*\.(ya?ml|json)$/;

function objectsOf(doc: unknown): unknown[] {
  const kind = (doc as { kind?: unknown } | null)?.kind;
  if (kind === 'List') return ((doc as { items?: unknown[] }).items ?? []).flatMap(objectsOf);
  return SERVED_KINDS.has(String(kind)) ? [doc] : [];
}

export function readManifests(dir: string): ManifestSnapshot {
  const snapshot: ManifestSnapshot = { objects: [], rejected: [] };
  for (const file of readdirSync(dir)
    .filter((f) => MANIFEST_FILE.test(f))
    .sort()) {
    const reject = (reason: string): void => {
      snapshot.rejected.push({ kind: 'File', key: file, reason, code: ErrorCode.InvalidManifest });
    };
    let text: string;
    try {
      text = readFileSync(path.join(dir, file), 'utf8');
    } catch (err) {
      reject((err as Error).message); // removed between listing and reading: the next read settles it
      continue;
    }
    try {
      const parsed = parseAllDocuments(text);
      const docs = Array.isArray(parsed) ? parsed : [parsed];
      const broken = docs.find((d) => d.errors.length > 0);
      if (broken) throw new KbpError(ErrorCode.InvalidManifest, broken.errors.map((e) => e.message).join('; '));
      // toJS throws too, e.g. on alias bombs; a file is taken whole or not at all.
      snapshot.objects.push(...docs.flatMap((doc) => objectsOf(doc.toJS())));
    } catch (err) {
      reject((err as Error).message);
    }
  }
  return snapshot;
}

export interface WatchOptions {
  /** Quiet time after the last change before re-reading (an editor saves in several steps). */
  debounceMs?: number;
  /** A full re-read every so often, in case a change notification was missed. */
  rescanMs?: number;
  /**
   * The directory itself could not be read (or watched): no snapshot is delivered, so the last good
   * state keeps serving rather than an empty one.
   */
  onError?: (err: Error) => void;
}

/** Delivers a snapshot now, then after every change in the directory; returns a function that stops watching. */
export function watchManifests(dir: string, onSnapshot: (snapshot: ManifestSnapshot) => void, options: WatchOptions = {}): () => void {
  const debounceMs = options.debounceMs ?? 100;
  let timer: NodeJS.Timeout | undefined;
  const deliver = (): void => {
    let snapshot: ManifestSnapshot;
    try {
      snapshot = readManifests(dir);
    } catch (err) {
      options.onError?.(err as Error);
      return;
    }
    onSnapshot(snapshot);
  };
  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(deliver, debounceMs);
  };
  const watcher: FSWatcher = watch(dir, schedule);
  watcher.on('error', (err) => options.onError?.(err));
  const rescan = setInterval(deliver, options.rescanMs ?? 30_000);
  rescan.unref();
  deliver();
  return () => {
    watcher.close();
    clearTimeout(timer);
    clearInterval(rescan);
  };
}
