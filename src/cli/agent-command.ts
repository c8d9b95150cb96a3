// `kbproxy agent`: runs until SIGTERM/SIGINT, then stops cleanly and leaves the dataplane serving.
// What a wrong start can be told at once (flags, the pin directory) is checked before the agent's
// heavier modules (the API server client, the admin server) are loaded.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ensurePinDir } from '../dataplane/bpffs.js';
import { createLogger } from '../log.js';
import { ErrorCode, KbpError } from '../errors.js';
import type { NodeConfig } from '../model/types.js';
import { nodePortAddresses } from './nodeport-addresses.js';
import { resolveNodeName } from './node-name.js';
import { parseDuration } from './duration.js';
import type { ConntrackTimeouts } from '../dataplane/loader.js';

export interface AgentFlags {
  manifests?: string;
  kubeconfig?: string;
  adminAddress: string;
  pinDir: string;
  mountBpffs?: boolean;
  nodeName?: string;
  hairpinAddress: string;
  nodeInterface?: string;
  hostCgroup?: string;
  nodeportAddresses: string;
  adminTokenFile?: string;
  conntrackTcpTimeoutEstablished: string;
  conntrackTcpTimeoutCloseWait: string;
  conntrackUdpTimeout: string;
  conntrackUdpTimeoutStream: string;
  conntrackGcInterval: string;
  repairInterval: string;
}

/** A period flag, in ms: a positive duration. */
function periodMs(flag: string, text: string): number {
  const seconds = parseDuration(text);
  if (seconds <= 0) throw new KbpError(ErrorCode.InvalidConfig, `${flag} must be longer than 0`);
  return seconds * 1000;
}

/** The conntrack lifetimes the flags set (0 leaves the datapath's default). */
function conntrackTimeouts(flags: AgentFlags): Partial<ConntrackTimeouts> {
  const given: [keyof ConntrackTimeouts, string][] = [
    ['tcpEstablished', flags.conntrackTcpTimeoutEstablished],
    ['tcpCloseWait', flags.conntrackTcpTimeoutCloseWait],
    ['udp', flags.conntrackUdpTimeout],
    ['udpStream', flags.conntrackUdpTimeoutStream],
  ];
  return Object.fromEntries(given.map(([name, text]) => [name, parseDuration(text)] as const).filter(([, seconds]) => seconds > 0));
}

export async function runAgentCommand(flags: AgentFlags): Promise<void> {
  const log = createLogger();
  let node: NodeConfig;
  let adminToken: string | undefined;
  let conntrack: Partial<ConntrackTimeouts>;
  let conntrackGcIntervalMs: number;
  let repairIntervalMs: number;
  try {
    const name = resolveNodeName(flags.nodeName, hostname());
    conntrack = conntrackTimeouts(flags);
    conntrackGcIntervalMs = periodMs('--conntrack-gc-interval', flags.conntrackGcInterval);
    repairIntervalMs = periodMs('--repair-interval', flags.repairInterval);
    node = flags.nodeportAddresses === 'primary' ? { name } : { name, nodePortAddresses: nodePortAddresses(flags.nodeportAddresses) };
    // A file (e.g. a mounted Secret) or the environment; a file wins.
    adminToken = flags.adminTokenFile === undefined ? process.env.KBP_ADMIN_TOKEN : readFileSync(flags.adminTokenFile, 'utf8').trim();
    if (adminToken === '') throw new KbpError(ErrorCode.InvalidConfig, 'the admin token is empty');
  } catch (err) {
    log.fatal({ err }, 'bad flag');
    process.exit(2);
  }
  try {
    const mounted = await ensurePinDir(flags.pinDir, { mount: flags.mountBpffs ?? false });
    if (mounted !== null) log.info({ mountPoint: mounted }, 'mounted a bpffs for the pins');
  } catch (err) {
    log.fatal({ err }, 'agent failed to start');
    process.exit(1);
  }
  const [{ Agent }, { manifestSource }, { kubernetesSource }] = await Promise.all([
    import('../agent/agent.js'),
    import('../sources/manifest-source.js'),
    import('../sources/kubernetes.js'),
  ]);
  const agent = new Agent({
    pinDir: flags.pinDir,
    conntrack,
    conntrackGcIntervalMs,
    repairIntervalMs,
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
