// `kbproxy agent`: runs until SIGTERM/SIGINT, then stops cleanly and leaves the dataplane serving.
import { Agent } from '../agent/agent.js';
import { manifestSource } from '../sources/manifest-source.js';
import { kubernetesSource } from '../sources/kubernetes.js';
import { createLogger } from '../log.js';

interface AgentFlags {
  manifests?: string;
  kubeconfig?: string;
  adminAddress: string;
  pinDir: string;
  nodeName: string;
  hairpinAddress: string;
  nodeInterface?: string;
}

export async function runAgentCommand(flags: AgentFlags): Promise<void> {
  const log = createLogger();
  const agent = new Agent({
    pinDir: flags.pinDir,
    hairpinAddress: flags.hairpinAddress,
    ...(flags.nodeInterface ? { nodeInterface: flags.nodeInterface } : {}),
    adminAddress: flags.adminAddress,
    source: flags.manifests
      ? manifestSource(flags.manifests, { nodeName: flags.nodeName, log })
      : kubernetesSource({ ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}), nodeName: flags.nodeName, log }),
    log,
    // A parent that started us with an IPC channel (tests, the demo) learns of every programmed sync.
    onSynced: (status) => process.send?.({ ready: status.ready, generation: status.generation, ops: status.lastSyncOps }),
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
