// A one-node cluster for tests: the node sandbox plugged into a fabric with a real control plane,
// pods that exist both as namespaces with servers and as API objects whose status is written the
// way a kubelet would, so the real EndpointSlice controller makes the slices.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createFabric, type Fabric } from './fabric.js';
import { startControlPlane, type ControlPlane } from './controlplane.js';
import { createNodeSandbox, type NodeSandbox, type Pod } from './topology.js';
import { startPodServer } from './processes.js';
import { run } from '../src/exec.js';
import type { KubeReply, KubeRequest } from './kube-client-protocol.js';

export const NODE_NAME = 'node-a';
export const OTHER_NODE = 'node-b';

export interface TestCluster {
  sandbox: NodeSandbox;
  fabric: Fabric;
  cp: ControlPlane;
  kube(req: KubeRequest): Promise<KubeReply>;
  /** A pod namespace with servers, and its API object, Ready with its IP. */
  addPod(name: string, labels: Record<string, string>, options?: { nodeName?: string }): Promise<Pod>;
  /** Deletes the pod's API object; with a grace period it stays, terminating (there is no kubelet). */
  deletePod(name: string, gracePeriodSeconds?: number): Promise<void>;
  destroy(): Promise<void>;
}

export function k8sBinDir(): string {
  const dir = process.env.KBP_K8S_BIN;
  assert.ok(dir, 'KBP_K8S_BIN is not set: run the tests with `npm test` (scripts/k8s-build provides the control plane)');
  return dir;
}

export async function createTestCluster(): Promise<TestCluster> {
  const sandbox = await createNodeSandbox();
  const workDir = mkdtempSync(path.join(tmpdir(), 'kbp-cluster-'));
  let fabric: Fabric | undefined;
  let cp: ControlPlane | undefined;
  const destroy = async (): Promise<void> => {
    await cp?.stop();
    await sandbox.destroy();
    if (fabric) await run('ip', ['netns', 'del', fabric.ns]).catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    fabric = await createFabric(`kbp-${sandbox.runId}-fabric`);
    await fabric.connect(sandbox.nodeNs, '10.0.0.11', `kbp${sandbox.runId}f1`);
    cp = await startControlPlane({
      fabricNs: fabric.ns,
      address: fabric.address,
      binDir: k8sBinDir(),
      workDir,
      log: process.env.KBP_LOG_CONTROL_PLANE === '1',
    });
    const kube = async (req: KubeRequest): Promise<KubeReply> => {
      const reply = await (cp as ControlPlane).kube.request(req);
      if (reply.error) throw new Error(`${req.op}: ${reply.error}`);
      return reply;
    };
    // node-b exists only in the API: pods "on" it live in node-a's sandbox, which is enough to tell
    // local from remote endpoints.
    for (const node of [NODE_NAME, OTHER_NODE])
      await kube({ op: 'apply', object: { apiVersion: 'v1', kind: 'Node', metadata: { name: node, labels: { 'kubernetes.io/hostname': node } } } });
    const ready = fabric;
    const plane = cp;
    return {
      sandbox,
      fabric: ready,
      cp: plane,
      kube,
      async addPod(name, labels, options = {}) {
        const pod = await sandbox.addPod(name);
        await startPodServer(pod.ns, name);
        await kube({
          op: 'apply',
          object: {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name, namespace: 'default', labels },
            spec: {
              nodeName: options.nodeName ?? NODE_NAME,
              containers: [{ name: 'server', image: 'kbp/pod-server', ports: [{ name: 'http', containerPort: 8080 }] }],
            },
          },
        });
        const now = new Date().toISOString();
        await kube({
          op: 'pod-status',
          namespace: 'default',
          name,
          status: {
            phase: 'Running',
            podIP: pod.ip,
            podIPs: [{ ip: pod.ip }],
            hostIP: '10.0.0.11',
            conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })),
          },
        });
        return pod;
      },
      async deletePod(name, gracePeriodSeconds = 0) {
        await kube({ op: 'delete', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' } }, gracePeriodSeconds });
      },
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}
