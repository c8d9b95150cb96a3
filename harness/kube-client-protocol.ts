// Messages between a test and the kube client (src/sandbox/kube-client.ts).
import type { V1ObjectMeta } from '@kubernetes/client-node';

/** The metadata a test writes. Objects cross the IPC channel as JSON, so they are plain data shaped
 * like the client's model classes, never instances of them. */
export type ObjectMeta = Pick<V1ObjectMeta, 'name' | 'namespace' | 'labels' | 'annotations' | 'resourceVersion'>;

/** A Kubernetes object as JSON: the identifying fields, and any others (spec, endpoints, ...). */
export type KubeObject = { apiVersion?: string; kind?: string; metadata?: ObjectMeta } & Record<string, unknown>;

export type KubeRequest =
  | { op: 'apply'; object: KubeObject }
  /** Creates many objects, `concurrency` requests at a time (benchmarks). */
  | { op: 'create-many'; objects: KubeObject[]; concurrency: number }
  | { op: 'delete'; object: KubeObject; gracePeriodSeconds?: number }
  | { op: 'list'; apiVersion: string; kind: string; namespace?: string }
  | { op: 'pod-status'; namespace: string; name: string; status: Record<string, unknown> }
  | { op: 'readyz' };

export interface KubeReply {
  object?: unknown;
  status?: number;
  text?: string;
  error?: string;
}
