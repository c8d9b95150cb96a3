// The fabric of DESIGN §4: a namespace with a bridge that node namespaces plug into with a veth
// ("eth0" on the node side). The control plane listens here. Not linked to the machine's interfaces.
import { run, runIn } from './exec.js';

export interface Fabric {
  ns: string;
  /** The fabric's own address on the bridge (the control plane's). */
  address: string;
  prefixLength: number;
  /** Plugs a node namespace in: its "eth0" gets `address`. */
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
      await runIn(nodeNs, 'ip', ['link', 'set', `${linkName}n`, 'name', 'eth0']);
      await runIn(nodeNs, 'ip', ['addr', 'add', `${nodeAddress}/${prefixLength}`, 'dev', 'eth0']);
      await runIn(nodeNs, 'ip', ['link', 'set', 'eth0', 'up']);
    },
  };
}
