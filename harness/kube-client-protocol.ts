// Messages between a test and the kube client (harness/kube-client.ts).
import type { V1ObjectMeta } from '@kubernetes/client-node';

/** The metadata a test writes. Objects cross the IPC channel as JSON, so they are plain data shaped
 * like the client's model classes, never instances of them. */
export type ObjectMeta = Pick<V1ObjectMeta, 'name' | 'namespace' | 'labels' | 'annotations' | 'resourceVersion'>;

/** A Kubernetes object as JSON: the identifying fields, and any others (spec, endpoints, ...). */
export type KubeObject = { apiVersion?: string; kind?: string; metadata?: ObjectMeta } & Record<string, unknown>;

export type KubeRequest =
  | { op: 'apply'; object: KubeObject }
  /** Creates many objects, `concurrency` requests at a time over kept-alive connections (benchmarks). */
  | { op: 'create-many'; objects: KubeObject[]; concurrency: number }
  /** One request as it is (path from the server's root, JSON body); fails unless the answer is 2xx. */
  | { op: 'request'; method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; path: string; body?: unknown }
  | { op: 'delete'; object: KubeObject; gracePeriodSeconds?: number }
  | { op: 'list'; apiVersion: string; kind: string; namespace?: string }
  | { op: 'pod-status'; namespace: string; name: string; status: Record<string, unknown> }
  | { op: 'readyz' };

export interface KubeReply {
  object?: unknown;
  status?: number;
  text?: string;
  /** create-many: how many objects were made, and how long it took inside the client. */
  count?: number;
  seconds?: number;
  error?: string;
}
