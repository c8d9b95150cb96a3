// The multi-node topology of docs/ARCHITECTURE.md §6: a fabric bridge, node namespaces plugged into it by an
// "eth0", pod namespaces behind each node, host-gw routes between the nodes' pod subnets, and an
// external client namespace on the fabric. Nothing is linked to the machine's own interfaces; every
// name carries the run id and destroy() removes it all.
import { createFabric, type Fabric } from './fabric.js';
import { run, runIn } from './exec.js';
import { createNodeSandbox, newRunId, removeNetns, type NodeSandbox } from './topology.js';

export interface SimNode {
  /** The Kubernetes node name ("node-a", ...). */
  name: string;
  /** The node's address on the fabric: its eth0. */
  address: string;
  podCidr: string;
  sandbox: NodeSandbox;
}

export interface MultiNodeTopology {
  runId: string;
  fabric: Fabric;
  nodes: SimNode[];
  /** A namespace outside the cluster, on the fabric: where outside traffic comes from. */
  client: { ns: string; address: string };
  /** Routes `address` (a load-balancer or external IP) from the client to `node`, as a router would. */
  routeVia(address: string, node: SimNode): Promise<void>;
  destroy(): Promise<void>;
}

const FABRIC_PREFIX = '10.0.0';

export async function createMultiNodeTopology(options: { nodes?: number; runId?: string } = {}): Promise<MultiNodeTopology> {
  const runId = options.runId ?? newRunId();
  const nodes: SimNode[] = [];
  const clientNs = `kbp-${runId}-client`;
  const namespaces: string[] = [];
  const destroy = async (): Promise<void> => {
    for (const node of nodes) await node.sandbox.destroy();
    for (const ns of namespaces.reverse()) await removeNetns(ns);
  };
  try {
    const fabric = await createFabric(`kbp-${runId}-fabric`, `${FABRIC_PREFIX}.1`);
    namespaces.push(fabric.ns);
    const count = options.nodes ?? 2;
    for (let i = 0; i < count; i++) {
      const letter = String.fromCharCode(97 + i);
      const podPrefix = `10.244.${i + 1}`;
      const sandbox = await createNodeSandbox({ runId, name: `node-${letter}`, podPrefix, fullChecksums: true });
      const node = { name: `node-${letter}`, address: `${FABRIC_PREFIX}.${11 + i}`, podCidr: `${podPrefix}.0/24`, sandbox };
      nodes.push(node);
      await fabric.connect(sandbox.nodeNs, node.address, `kbp${runId}f${i + 1}`);
    }
    // host-gw: every node reaches the others' pods through their fabric address.
    for (const node of nodes) {
      for (const other of nodes) {
        if (other !== node) await runIn(node.sandbox.nodeNs, 'ip', ['route', 'add', other.podCidr, 'via', other.address]);
      }
    }
    const client = { ns: clientNs, address: `${FABRIC_PREFIX}.100` };
    namespaces.push(clientNs);
    await run('ip', ['netns', 'add', clientNs]);
    await runIn(clientNs, 'ip', ['link', 'set', 'lo', 'up']);
    await fabric.connect(clientNs, client.address, `kbp${runId}c`);
    // Outside traffic leaves the client with its checksums complete, as from a real network.
    await runIn(clientNs, 'ethtool', ['-K', 'eth0', 'tx', 'off']);
    return {
      runId,
      fabric,
      nodes,
      client,
      async routeVia(address, node) {
        await runIn(clientNs, 'ip', ['route', 'replace', `${address}/32`, 'via', node.address]);
      },
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}
