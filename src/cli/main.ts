#!/usr/bin/env node
// kbproxy: the agent, and inspection of a running agent.
import { Command, Option } from 'commander';
import type { AgentFlags } from './agent-command.js';
import { registerInspect } from './inspect.js';

const program = new Command().name('kbproxy').description('kube-bpf-proxy: a Kubernetes Service dataplane in eBPF').showHelpAfterError();

program
  .command('agent')
  .description('run the node agent in the current network namespace (like a hostNetwork DaemonSet pod)')
  .option('--manifests <dir>', 'serve the Service and EndpointSlice YAML files of a directory instead of a cluster')
  .addOption(new Option('--kubeconfig <file>', 'kubeconfig of the cluster (default: in-cluster config, then $KUBECONFIG or ~/.kube/config)').env('KUBECONFIG'))
  .option('--admin-address <host:port>', 'admin API listen address', '127.0.0.1:10249')
  .option('--pin-dir <dir>', 'bpffs directory for the pinned maps', '/sys/fs/bpf/kube-bpf-proxy')
  .option('--mount-bpffs', "mount a bpffs at the pin directory's parent when it is not on one")
  .addOption(new Option('--node-name <name>', 'this node, to tell local endpoints (default: $NODE_NAME, else the host name)').env('NODE_NAME'))
  .option('--hairpin-address <ip>', 'source address for a pod reaching itself through a service', '169.254.42.1')
  .option('--node-interface <name>', "the node's interface toward the network: serve node ports, load-balancer and external IPs there (xdp)")
  .option(
    '--nodeport-addresses <cidrs>',
    'node ports on the node\'s own addresses within these CIDRs (comma-separated), or "primary": the Node object\'s',
    'primary',
  )
  .addOption(
    new Option('--admin-token-file <file>', "file holding the admin API's bearer token, else $KBP_ADMIN_TOKEN (acting routes are off without one)").env(
      'KBP_ADMIN_TOKEN_FILE',
    ),
  )
  .option('--host-cgroup <path>', 'a cgroup v2 directory whose processes reach ClusterIPs from the host network (socket hooks)')
  // kube-proxy's conntrack flags, with its defaults; 0 keeps the datapath's default, as kube-proxy leaves the kernel's.
  .option('--conntrack-tcp-timeout-established <duration>', 'idle lifetime of an established TCP connection', '24h0m0s')
  .option('--conntrack-tcp-timeout-close-wait <duration>', 'idle lifetime of a TCP direction after its FIN while the other still sends', '1h0m0s')
  .option('--conntrack-udp-timeout <duration>', 'idle lifetime of a UDP flow before any reply (0: 30s)', '0s')
  .option('--conntrack-udp-timeout-stream <duration>', 'idle lifetime of a UDP flow that has seen replies (0: 120s)', '0s')
  .option('--conntrack-gc-interval <duration>', 'how often expired conntrack entries are deleted', '30s')
  .option('--repair-interval <duration>', 'how often the maps are read back and what differs from the desired state rewritten', '60s')
  // Loaded on use: `kbproxy inspect` and --help need none of the agent's modules.
  .action(async (flags: AgentFlags) => {
    const { runAgentCommand } = await import('./agent-command.js');
    await runAgentCommand(flags);
  });

registerInspect(program);

await program.parseAsync();
