// The fabric of docs/ARCHITECTURE.md §6: a namespace with a bridge that node namespaces plug into with a veth
// ("eth0" on the node side). The control plane listens here. Not linked to the machine's interfaces.
import path from 'node:path';
import { native, repoRoot } from '../src/native/bpf.js';
import { netnsPath, run, runIn } from './exec.js';

const BASELINE_OBJECT = path.join(repoRoot, 'bpf', 'build', 'baseline.bpf.o');

export interface Fabric {
  ns: string;
  /** The fabric's own address on the bridge (the control plane's). */
  address: string;
  prefixLength: number;
  /** Plugs a namespace in (a node's, or an outside client's): its "eth0" gets `address`. */
  connect(nodeNs: string, address: string, linkName: string): Promise<void>;
}

export async function createFabric(ns: string, address = '10.0.0.1', prefixLength = 24): Promise<Fabric> {
  await run('ip', ['netns', 'add', ns]);
  await runIn(ns, 'ip', ['link', 'set', 'lo', 'up']);
  await runIn(ns, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
  await runIn(ns, 'ip', ['addr', 'add', `${address}/${prefixLength}`, 'dev', 'br0']);
  await runIn(ns, 'ip', ['link', 'set', 'br0', 'up']);
  return {
    ns,
    address,
    prefixLength,
    async connect(nodeNs, nodeAddress, linkName) {
      await runIn(ns, 'ip', ['link', 'add', linkName, 'type', 'veth', 'peer', 'name', `${linkName}n`]);
      await runIn(ns, 'ip', ['link', 'set', `${linkName}n`, 'netns', nodeNs]);
      await runIn(ns, 'ip', ['link', 'set', linkName, 'master', 'br0', 'up']);
      // The switch port takes in frames a node sends back out with XDP_TX only with an XDP program
      // of its own (a veth's rule); a do-nothing one does.
      const baseline = await native().load(BASELINE_OBJECT, { pinRoot: '/sys/fs/bpf' }); // pins nothing: it has no maps
      try {
        native().xdpAttach({ ifname: linkName, netns: netnsPath(ns) }, baseline.program('kbp_baseline_xdp'));
      } finally {
        baseline.close(); // the attachment holds the program
      }
      await runIn(nodeNs, 'ip', ['link', 'set', `${linkName}n`, 'name', 'eth0']);
      await runIn(nodeNs, 'ip', ['addr', 'add', `${nodeAddress}/${prefixLength}`, 'dev', 'eth0']);
      await runIn(nodeNs, 'ip', ['link', 'set', 'eth0', 'up']);
    },
  };
}
