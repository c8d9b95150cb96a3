// Finds the pod interfaces of this node (veth devices whose peer lives in another network namespace,
// as `ip -d link` reports with link_netnsid) and keeps the datapath attached to each, also to those
// that appear later. Attaching replaces our previous filter in place, so a restarted agent swaps its
// new programs in without a gap.
import type { BpfProgram, NativeAddon } from '../native/bpf.js';
import type { Logger } from '../log.js';
import { run } from '../exec.js';

interface IpLink {
  ifindex: number;
  ifname: string;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string };
}

export async function listPodInterfaces(): Promise<IpLink[]> {
  const links = JSON.parse(await run('ip', ['-j', '-d', 'link', 'show', 'type', 'veth'])) as IpLink[];
  return links.filter((l) => l.link_netnsid !== undefined);
}

export interface PodAttachment {
  fromPod: BpfProgram;
  toPod: BpfProgram;
}

export class InterfaceWatcher {
  /** ifname -> ifindex it was attached at (a recreated interface gets a new index). */
  private readonly attached = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;

  constructor(
    private readonly addon: NativeAddon,
    private readonly programs: PodAttachment,
    private readonly log: Logger,
    /** Veths that are not pods' (the node's own interface when it is one). */
    private readonly exclude: ReadonlySet<string> = new Set(),
    private readonly intervalMs = 1000,
  ) {}

  /** Attaches to every pod interface present now, then keeps watching. */
  async start(): Promise<void> {
    await this.scan();
    this.timer = setInterval(() => void this.scan(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  get interfaces(): string[] {
    return [...this.attached.keys()];
  }

  scan(): Promise<void> {
    this.scanning ??= this.scanOnce().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    let links: IpLink[];
    try {
      links = await listPodInterfaces();
    } catch (err) {
      this.log.warn({ err }, 'cannot list interfaces');
      return;
    }
    const present = new Set<string>();
    for (const link of links) {
      if (this.exclude.has(link.ifname)) continue;
      present.add(link.ifname);
      if (this.attached.get(link.ifname) === link.ifindex) continue;
      try {
        this.addon.tcAttach({ ifname: link.ifname }, 'ingress', this.programs.fromPod);
        this.addon.tcAttach({ ifname: link.ifname }, 'egress', this.programs.toPod);
        this.attached.set(link.ifname, link.ifindex);
        this.log.info({ ifname: link.ifname }, 'attached to pod interface');
      } catch (err) {
        // The interface may vanish between listing and attaching; the next scan settles it.
        this.log.warn({ err, ifname: link.ifname }, 'cannot attach to pod interface');
      }
    }
    for (const name of this.attached.keys()) if (!present.has(name)) this.attached.delete(name);
  }
}
