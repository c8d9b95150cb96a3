#!/usr/bin/env node
// kbproxy: the agent, and inspection of a running agent.
import { Command, Option } from 'commander';
import { runAgentCommand } from './agent-command.js';
import { registerInspect } from './inspect.js';

const program = new Command().name('kbproxy').description('kube-bpf-proxy: a Kubernetes Service dataplane in eBPF').showHelpAfterError();

program
  .command('agent')
  .description('run the node agent in the current network namespace (like a hostNetwork DaemonSet pod)')
  .option('--manifests <dir>', 'serve the Service and EndpointSlice YAML files of a directory instead of a cluster')
  .addOption(new Option('--kubeconfig <file>', 'kubeconfig of the cluster (default: in-cluster config, then $KUBECONFIG or ~/.kube/config)').env('KUBECONFIG'))
  .option('--admin-address <host:port>', 'admin API listen address', '127.0.0.1:10249')
  .option('--pin-dir <dir>', 'bpffs directory for the pinned maps', '/sys/fs/bpf/kube-bpf-proxy')
  .addOption(new Option('--node-name <name>', 'this node, to tell local endpoints').env('NODE_NAME').default('node-a'))
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
  .action(runAgentCommand);

registerInspect(program);

await program.parseAsync();
