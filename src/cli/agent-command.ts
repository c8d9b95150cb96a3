// `kbproxy agent`: runs until SIGTERM/SIGINT, then stops cleanly and leaves the dataplane serving.
import { readFileSync } from 'node:fs';
import { Agent } from '../agent/agent.js';
import { manifestSource } from '../sources/manifest-source.js';
import { kubernetesSource } from '../sources/kubernetes.js';
import { createLogger } from '../log.js';
import { ErrorCode, KbpError } from '../errors.js';
import type { NodeConfig } from '../model/types.js';
import { nodePortAddresses } from './nodeport-addresses.js';

interface AgentFlags {
  manifests?: string;
  kubeconfig?: string;
  adminAddress: string;
  pinDir: string;
  nodeName: string;
  hairpinAddress: string;
  nodeInterface?: string;
  hostCgroup?: string;
  nodeportAddresses: string;
  adminTokenFile?: string;
}

export async function runAgentCommand(flags: AgentFlags): Promise<void> {
  const log = createLogger();
  let node: NodeConfig;
  let adminToken: string | undefined;
  try {
    node =
      flags.nodeportAddresses === 'primary'
        ? { name: flags.nodeName }
        : { name: flags.nodeName, nodePortAddresses: nodePortAddresses(flags.nodeportAddresses) };
    // A file (e.g. a mounted Secret) or the environment; a file wins.
    adminToken = flags.adminTokenFile === undefined ? process.env.KBP_ADMIN_TOKEN : readFileSync(flags.adminTokenFile, 'utf8').trim();
    if (adminToken === '') throw new KbpError(ErrorCode.InvalidConfig, 'the admin token is empty');
  } catch (err) {
    log.fatal({ err }, 'bad flag');
    process.exit(2);
  }
  const agent = new Agent({
    pinDir: flags.pinDir,
    hairpinAddress: flags.hairpinAddress,
    ...(flags.nodeInterface ? { nodeInterface: flags.nodeInterface } : {}),
    ...(flags.hostCgroup ? { hostCgroup: flags.hostCgroup } : {}),
    ...(adminToken ? { adminToken } : {}),
    adminAddress: flags.adminAddress,
    node,
    source: flags.manifests
      ? manifestSource(flags.manifests, { log })
      : kubernetesSource({ ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}), node, log }),
    log,
    // A parent that started us with an IPC channel (tests, the demo) learns of every programmed sync.
    onSynced: (status) => process.send?.({ ready: status.ready, generation: status.generation, ops: status.lastSyncOps, syncMs: status.lastSyncMs }),
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping; the pinned dataplane stays in place');
    agent.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('disconnect', () => stop('parent gone'));
  try {
    await agent.start();
  } catch (err) {
    log.fatal({ err }, 'agent failed to start');
    process.exit(1);
  }
  log.info(agent.status(), 'agent ready');
}
