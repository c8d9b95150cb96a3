// A Kubernetes API client living in the fabric namespace (where the API server is reachable), driven
// over IPC by tests: create, replace, delete objects, and write pod status the way a kubelet would.
// Bulk creation and single raw requests go straight over HTTPS with kept-alive connections: the
// object API's generic calls cost a discovery round trip and a new connection's handshake each.
import https from 'node:https';
import { CoreV1Api, KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import type { KubeObject, KubeReply, KubeRequest } from './kube-client-protocol.js';

const kc = new KubeConfig();
kc.loadFromFile(process.argv[2] ?? '');
const objects = KubernetesObjectApi.makeApiClient(kc);
const core = kc.makeApiClient(CoreV1Api);
const server = kc.getCurrentCluster()?.server ?? '';

let tls: Promise<https.RequestOptions> | undefined;
/** The kubeconfig's credentials with one keep-alive agent, so connections are reused across requests. */
function tlsOptions(): Promise<https.RequestOptions> {
  return (tls ??= (async () => {
    const options: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(options);
    const { ca, cert, key } = options;
    return { ...options, agent: new https.Agent({ keepAlive: true, maxSockets: 128, ca, cert, key }) };
  })());
}

interface RawReply {
  status: number;
  text: string;
}

async function raw(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<RawReply> {
  const options = await tlsOptions();
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${server}${path}`,
      {
        ...options,
        method,
        timeout: timeoutMs,
        headers: {
          accept: 'application/json',
          ...(payload === undefined
            ? {}
            : { 'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** A raw request that must succeed (2xx); throttled or unavailable answers are tried again. */
async function rawOk(method: string, path: string, body?: unknown): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    const r = await raw(method, path, body).catch((err: unknown) => ({ status: 0, text: err instanceof Error ? err.message : String(err) }));
    if (r.status >= 200 && r.status < 300) return r.text ? JSON.parse(r.text) : undefined;
    const transient = r.status === 0 || r.status === 429 || r.status === 503;
    if (!transient || attempt >= 5) throw new Error(`${method} ${path}: ${r.status} ${r.text.slice(0, 500)}`);
    await new Promise((res) => setTimeout(res, 100 * 2 ** attempt));
  }
}

/** Where objects of an apiVersion and kind are created, from the API's discovery (once per group version). */
const resources = new Map<string, Promise<Map<string, { name: string; namespaced: boolean }>>>();
async function collectionPath(object: KubeObject): Promise<string> {
  const apiVersion = object.apiVersion ?? 'v1';
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  let known = resources.get(apiVersion);
  if (!known) {
    known = rawOk('GET', base).then((list) => {
      const byKind = new Map<string, { name: string; namespaced: boolean }>();
      for (const r of (list as { resources: { name: string; kind: string; namespaced: boolean }[] }).resources) {
        if (!r.name.includes('/')) byKind.set(r.kind, { name: r.name, namespaced: r.namespaced });
      }
      return byKind;
    });
    resources.set(apiVersion, known);
  }
  const resource = (await known).get(object.kind ?? '');
  if (!resource) throw new Error(`${apiVersion} has no kind ${object.kind ?? '(none)'}`);
  const namespace = object.metadata?.namespace ?? 'default';
  return resource.namespaced ? `${base}/namespaces/${namespace}/${resource.name}` : `${base}/${resource.name}`;
}

/** Readiness of the API server: status 0 when it is not reachable yet. */
async function readyz(): Promise<KubeReply> {
  return raw('GET', '/readyz', undefined, 2000).then(
    (r) => ({ status: r.status, text: r.text }),
    (err: unknown) => ({ status: 0, text: err instanceof Error ? err.message : String(err) }),
  );
}

async function handle(req: KubeRequest): Promise<KubeReply> {
  switch (req.op) {
    case 'apply': {
      const existing = await objects.read(req.object as never).catch(() => undefined);
      if (!existing) return { object: await objects.create(req.object) };
      const object = { ...req.object, metadata: { ...req.object.metadata, resourceVersion: existing.metadata?.resourceVersion } };
      return { object: await objects.replace(object) };
    }
    case 'create-many': {
      const started = performance.now();
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < req.objects.length) {
          const object = req.objects[next++];
          if (object) await rawOk('POST', await collectionPath(object), object);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, req.concurrency) }, worker));
      return { count: req.objects.length, seconds: (performance.now() - started) / 1000 };
    }
    case 'request':
      return { object: await rawOk(req.method, req.path, req.body) };
    case 'list':
      return { object: await objects.list(req.apiVersion, req.kind, req.namespace) };
    case 'delete':
      await objects.delete(req.object, undefined, undefined, req.gracePeriodSeconds ?? 0);
      return {};
    case 'pod-status': {
      const pod = await core.readNamespacedPod({ name: req.name, namespace: req.namespace });
      pod.status = req.status;
      return { object: await core.replaceNamespacedPodStatus({ name: req.name, namespace: req.namespace, body: pod }) };
    }
    case 'readyz':
      return readyz();
  }
}

process.on('message', (msg: { seq: number; req: KubeRequest }) => {
  handle(msg.req).then(
    (reply) => process.send?.({ seq: msg.seq, reply }),
    (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      const body = err instanceof Error && 'body' in err ? err.body : undefined;
      process.send?.({ seq: msg.seq, reply: { error: `${message} ${JSON.stringify(body ?? '')}` } });
    },
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
