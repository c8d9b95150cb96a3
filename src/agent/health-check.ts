// Health check node ports, answered the way kube-proxy answers them: for a service with
// externalTrafficPolicy Local, an outside load balancer asks every node whether it has a local
// endpoint to send traffic to: 200 with the count when it does, 503 when it does not (terminating
// endpoints do not count, so a draining node is taken out of rotation).
import http from 'node:http';
import { slotCounts, type LbService } from '../compile/types.js';
import type { Logger } from '../log.js';

interface HealthTarget {
  namespace: string;
  name: string;
  localEndpoints: number;
}

/** This node's ready local endpoints among those that take the service's new flows. */
export function localReadyEndpoints(svc: LbService): number {
  const slots = slotCounts(svc);
  return svc.backends.filter((b, i) => (slots[i] ?? 0) > 0 && b.local && !b.terminating).length;
}

/** What every health check port should answer, from the compiled services. */
export function healthTargets(services: readonly LbService[]): Map<number, HealthTarget> {
  const out = new Map<number, HealthTarget>();
  for (const svc of services) {
    if (svc.healthCheckNodePort === null) continue;
    const [namespace = '', name = ''] = svc.service.split('/');
    const seen = out.get(svc.healthCheckNodePort);
    // One port per Service: its several ports' counts are summed, as kube-proxy does per service.
    out.set(svc.healthCheckNodePort, { namespace, name, localEndpoints: (seen?.localEndpoints ?? 0) + localReadyEndpoints(svc) });
  }
  return out;
}

export class HealthCheckServers {
  private readonly servers = new Map<number, { server: http.Server; target: HealthTarget }>();

  constructor(private readonly log: Logger) {}

  /** Opens the ports now wanted, closes the others, and updates what each answers. */
  update(services: readonly LbService[]): void {
    const wanted = healthTargets(services);
    for (const [port, entry] of this.servers) {
      if (!wanted.has(port)) {
        entry.server.close();
        this.servers.delete(port);
      }
    }
    for (const [port, target] of wanted) {
      const running = this.servers.get(port);
      if (running) {
        running.target = target;
        continue;
      }
      const entry = { server: http.createServer((_req, res) => this.answer(entry.target, res)), target };
      entry.server.on('error', (err) => {
        this.log.warn({ err, port, service: `${target.namespace}/${target.name}` }, 'cannot serve the health check node port');
        this.servers.delete(port);
      });
      entry.server.listen(port);
      this.servers.set(port, entry);
    }
  }

  close(): void {
    for (const { server } of this.servers.values()) server.close();
    this.servers.clear();
  }

  private answer(target: HealthTarget, res: http.ServerResponse): void {
    const body = JSON.stringify({
      service: { namespace: target.namespace, name: target.name },
      localEndpoints: target.localEndpoints,
      serviceProxyHealthy: true,
    });
    res.writeHead(target.localEndpoints > 0 ? 200 : 503, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' });
    res.end(body);
  }
}
