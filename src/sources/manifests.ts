// A directory of manifests as the source of Services and EndpointSlices: every *.yaml, *.yml and
// *.json file in it (multi-document YAML and `kind: List` included), re-read whenever it changes.
import { readdirSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ErrorCode } from '../errors.js';
import type { Rejection } from '../model/types.js';

export interface ManifestSnapshot {
  /** Objects of the kinds we serve, in file order. */
  objects: unknown[];
  /** Files that could not be read or parsed (code KBP_INVALID_MANIFEST); objects of other kinds are skipped. */
  rejected: (Rejection & { code: string })[];
}

const SERVED_KINDS = new Set(['Service', 'EndpointSlice']);
const MANIFEST_FILE = /^[^.].*\.(ya?ml|json)$/;

function objectsOf(doc: unknown): unknown[] {
  const kind = (doc as { kind?: unknown } | null)?.kind;
  if (kind === 'List') return ((doc as { items?: unknown[] }).items ?? []).flatMap(objectsOf);
  return SERVED_KINDS.has(String(kind)) ? [doc] : [];
}

export function readManifests(dir: string): ManifestSnapshot {
  const snapshot: ManifestSnapshot = { objects: [], rejected: [] };
  for (const file of readdirSync(dir).filter((f) => MANIFEST_FILE.test(f)).sort()) {
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
    const docs = parseAllDocuments(text);
    const broken = (Array.isArray(docs) ? docs : [docs]).find((d) => d.errors.length > 0);
    if (broken) {
      reject(broken.errors.map((e) => e.message).join('; '));
      continue;
    }
    for (const doc of Array.isArray(docs) ? docs : [docs]) snapshot.objects.push(...objectsOf(doc.toJS()));
  }
  return snapshot;
}

export interface WatchOptions {
  /** Quiet time after the last change before re-reading (an editor saves in several steps). */
  debounceMs?: number;
  /** A full re-read every so often, in case a change notification was missed. */
  rescanMs?: number;
}

/** Delivers a snapshot now, then after every change in the directory; returns a function that stops watching. */
export function watchManifests(dir: string, onSnapshot: (snapshot: ManifestSnapshot) => void, options: WatchOptions = {}): () => void {
  const debounceMs = options.debounceMs ?? 100;
  let timer: NodeJS.Timeout | undefined;
  const deliver = (): void => onSnapshot(readManifests(dir));
  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(deliver, debounceMs);
  };
  const watcher: FSWatcher = watch(dir, schedule);
  const rescan = setInterval(deliver, options.rescanMs ?? 30_000);
  rescan.unref();
  deliver();
  return () => {
    watcher.close();
    clearTimeout(timer);
    clearInterval(rescan);
  };
}
