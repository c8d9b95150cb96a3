// A Kubernetes API client living in the fabric namespace (where the API server is reachable), driven
// over IPC by tests: create, replace, delete objects, and write pod status the way a kubelet would.
import https from 'node:https';
import { CoreV1Api, KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import type { KubeReply, KubeRequest } from './kube-client-protocol.js';

const kc = new KubeConfig();
kc.loadFromFile(process.argv[2] ?? '');
const objects = KubernetesObjectApi.makeApiClient(kc);
const core = kc.makeApiClient(CoreV1Api);

/** GET /readyz with the kubeconfig's credentials; status 0 when the server is not reachable yet. */
async function readyz(): Promise<KubeReply> {
  const options: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve) => {
    const req = https.get(`${kc.getCurrentCluster()?.server}/readyz`, { ...options, timeout: 2000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, text: err.message }));
  });
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
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < req.objects.length) {
          const object = req.objects[next++];
          if (object) await objects.create(object);
        }
      };
      await Promise.all(Array.from({ length: req.concurrency }, worker));
      return {};
    }
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
