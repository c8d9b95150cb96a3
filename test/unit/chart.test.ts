// The Helm chart: it lints, renders a DaemonSet that runs the agent the way this repository's tests
// run it (host network, bpffs, node name, flags the CLI knows), and asks only for read access.
// Needs helm (KBP_HELM, from scripts/helm-build; scripts/test provides it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubernetesObject, V1ClusterRole, V1DaemonSet } from '@kubernetes/client-node';
import { repoRoot } from '../../src/native/bpf.js';
import { first } from '../helpers/types.js';

const chart = path.join(repoRoot, 'charts', 'kube-bpf-proxy');

function helm(...args: string[]): string {
  const bin = process.env.KBP_HELM;
  if (!bin) throw new Error('KBP_HELM is not set: run the tests through scripts/test, which builds helm (scripts/helm-build)');
  return execFileSync(bin, args, { encoding: 'utf8' });
}

function render(...set: string[]): KubernetesObject[] {
  // The release this repository tests against (helm built from source assumes a far older one).
  const out = helm('template', 'kbp', chart, '--namespace', 'kube-system', '--kube-version', '1.36.3', ...set.flatMap((s) => ['--set', s]));
  return parseAllDocuments(out)
    .map((d) => d.toJS() as KubernetesObject)
    .filter(Boolean);
}

const daemonSet = (docs: KubernetesObject[]) => {
  const ds = docs.find((d): d is V1DaemonSet => d.kind === 'DaemonSet');
  assert.ok(ds, 'a DaemonSet');
  const pod = ds.spec?.template.spec;
  assert.ok(pod, 'a pod template');
  return { pod, agent: first(pod.containers) };
};

test('the chart lints', () => {
  helm('lint', chart, '--strict');
});

test('the DaemonSet runs the agent in the host network with bpffs, its node name and its flags', () => {
  const { pod, agent } = daemonSet(render());
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
  assert.deepEqual(agent.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
  assert.deepEqual(agent.args, [
    'agent',
    '--pin-dir=/sys/fs/bpf/kube-bpf-proxy',
    '--mount-bpffs',
    '--admin-address=127.0.0.1:10249',
    '--nodeport-addresses=primary',
    '--node-interface=eth0',
    '--host-cgroup=/run/kbp-cgroup',
  ]);
  assert.deepEqual(agent.readinessProbe?.httpGet, { host: '127.0.0.1', path: '/readyz', port: 10249 });
  assert.equal(agent.livenessProbe?.httpGet?.path, '/healthz');
  assert.equal(pod.volumes?.find((v) => v.name === 'bpffs')?.hostPath?.path, '/sys/fs/bpf');
  assert.equal(agent.volumeMounts?.find((m) => m.name === 'bpffs')?.mountPropagation, 'Bidirectional');
});

test("every flag the chart passes is one the agent's CLI knows", () => {
  const help = execFileSync(process.execPath, [path.join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'agent', '--help'], { encoding: 'utf8' });
  const { agent } = daemonSet(render('admin.tokenSecret=kbp-admin'));
  for (const flag of (agent.args as string[]).filter((a) => a.startsWith('--')).map((a) => a.split('=')[0] ?? '')) {
    assert.ok(help.includes(`${flag} `), `${flag} in kbproxy agent --help`);
  }
});

test('options: the token from a Secret; no node interface, no host cgroup', () => {
  const { pod, agent } = daemonSet(render('admin.tokenSecret=kbp-admin', 'nodeInterface=', 'hostCgroup='));
  assert.ok(agent.args?.includes('--admin-token-file=/run/kbp-admin/token'));
  assert.ok(!(agent.args as string[]).some((a) => a.startsWith('--node-interface') || a.startsWith('--host-cgroup')));
  assert.equal(pod.volumes?.find((v) => v.name === 'admin-token')?.secret?.secretName, 'kbp-admin');
  assert.ok(!pod.volumes.some((v) => v.name === 'cgroup'));
});

test('RBAC: read access to services, endpointslices and nodes, nothing else', () => {
  const role = render().find((d): d is V1ClusterRole => d.kind === 'ClusterRole');
  assert.ok(role?.rules);
  const granted = role.rules.flatMap((r) =>
    (r.resources as string[]).flatMap((res) => r.verbs.map((v) => `${(r.apiGroups as string[])[0] || 'core'}/${res}:${v}`)),
  );
  assert.deepEqual(granted.sort(), [
    'core/nodes:get',
    'core/nodes:list',
    'core/nodes:watch',
    'core/services:get',
    'core/services:list',
    'core/services:watch',
    'discovery.k8s.io/endpointslices:get',
    'discovery.k8s.io/endpointslices:list',
    'discovery.k8s.io/endpointslices:watch',
  ]);
});
