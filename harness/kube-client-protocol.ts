// Messages between a test and the kube client (src/sandbox/kube-client.ts).
import type { KubernetesObject } from '@kubernetes/client-node';

export type KubeRequest =
  | { op: 'apply'; object: KubernetesObject & Record<string, unknown> }
  /** Creates many objects, `concurrency` requests at a time (benchmarks). */
  | { op: 'create-many'; objects: (KubernetesObject & Record<string, unknown>)[]; concurrency: number }
  | { op: 'delete'; object: KubernetesObject; gracePeriodSeconds?: number }
  | { op: 'list'; apiVersion: string; kind: string; namespace?: string }
  | { op: 'pod-status'; namespace: string; name: string; status: Record<string, unknown> }
  | { op: 'readyz' };

export interface KubeReply {
  object?: unknown;
  status?: number;
  text?: string;
  error?: string;
}
