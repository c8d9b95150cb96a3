// A real Kubernetes control plane for tests, in the fabric namespace: etcd, kube-apiserver and
// kube-controller-manager (EndpointSlice controller only), with certificates made for the run.
// Binaries come from scripts/k8s-build. Everything lives under workDir and in the fabric namespace.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { run } from '../src/exec.js';
import { spawnTiedIn } from './exec.js';
import { startKubeClient, type KubeClient } from './processes.js';

export interface ControlPlaneOptions {
  fabricNs: string;
  /** The API server's address on the fabric bridge. */
  address: string;
  binDir: string;
  workDir: string;
  serviceCidr?: string;
  /**
   * Runs kube-controller-manager with its EndpointSlice controller (default true). A cluster whose
   * slices are all written by hand goes without, one process fewer competing for the CPUs.
   */
  controllerManager?: boolean;
  /** Inherit the components' output (for debugging). */
  log?: boolean;
}

export interface ControlPlane {
  server: string;
  kubeconfig: string;
  /** A client in the fabric namespace, for the test to create and change objects. */
  kube: KubeClient;
  /** Stops the API server only (etcd and the controller manager keep running). */
  stopApiServer(): Promise<void>;
  /**
   * Starts the API server again, and restarts the controller manager: its watches would otherwise
   * sit out their backoff (~30 s after a 10 s outage) before the slices follow the pods again.
   */
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

async function makeCerts(dir: string, address: string): Promise<void> {
  const openssl = (...args: string[]) => run('openssl', args);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', `${dir}/ca.key`, '-out', `${dir}/ca.crt`, '-days', '2', '-subj', '/CN=kbp-test-ca');
  const sign = async (name: string, subject: string, ext: string) => {
    await openssl('req', ...ec, '-keyout', `${dir}/${name}.key`, '-out', `${dir}/${name}.csr`, '-subj', subject);
    writeFileSync(`${dir}/${name}.ext`, ext);
    await openssl(
      'x509',
      '-req',
      '-in',
      `${dir}/${name}.csr`,
      '-CA',
      `${dir}/ca.crt`,
      '-CAkey',
      `${dir}/ca.key`,
      '-CAcreateserial',
      '-out',
      `${dir}/${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${dir}/${name}.ext`,
    );
  };
  await sign(
    'apiserver',
    '/CN=kube-apiserver',
    `subjectAltName=IP:${address},IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n`,
  );
  await sign('admin', '/O=system:masters/CN=kbp-admin', 'extendedKeyUsage=clientAuth\n');
  await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${dir}/sa.key`);
  await openssl('ec', '-in', `${dir}/sa.key`, '-pubout', '-out', `${dir}/sa.pub`);
}

function writeKubeconfig(file: string, dir: string, server: string): void {
  const b64 = (f: string) => readFileSync(path.join(dir, f)).toString('base64');
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'kbp', cluster: { server, 'certificate-authority-data': b64('ca.crt') } }],
      users: [{ name: 'admin', user: { 'client-certificate-data': b64('admin.crt'), 'client-key-data': b64('admin.key') } }],
      contexts: [{ name: 'kbp', context: { cluster: 'kbp', user: 'admin' } }],
      'current-context': 'kbp',
    }),
  );
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { fabricNs, address, binDir, workDir } = options;
  const pki = path.join(workDir, 'pki');
  mkdirSync(pki, { recursive: true });
  await makeCerts(pki, address);
  const server = `https://${address}:6443`;
  const kubeconfig = path.join(workDir, 'admin.kubeconfig');
  writeKubeconfig(kubeconfig, pki, server);
  const stdio = ['ignore', options.log ? 'inherit' : 'ignore', options.log ? 'inherit' : 'ignore'] as const;
  // Tied to this process: a harness that dies leaves no etcd or API server running.
  const spawn = (bin: string, args: string[]) => spawnTiedIn(fabricNs, path.join(binDir, bin), args, { stdio: [...stdio] });
  const etcd = spawn('etcd', [
    `--data-dir=${workDir}/etcd`,
    '--listen-client-urls=http://127.0.0.1:2379',
    '--advertise-client-urls=http://127.0.0.1:2379',
    '--listen-peer-urls=http://127.0.0.1:2380',
    '--log-level=error',
  ]);

  const apiserverArgs = [
    '--etcd-servers=http://127.0.0.1:2379',
    `--advertise-address=${address}`,
    '--bind-address=0.0.0.0',
    '--secure-port=6443',
    `--tls-cert-file=${pki}/apiserver.crt`,
    `--tls-private-key-file=${pki}/apiserver.key`,
    `--client-ca-file=${pki}/ca.crt`,
    `--service-account-key-file=${pki}/sa.pub`,
    `--service-account-signing-key-file=${pki}/sa.key`,
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-cluster-ip-range=${options.serviceCidr ?? '10.96.0.0/16'}`,
    '--authorization-mode=RBAC',
    // No kubelets here: pods are written by the test, so no service account tokens are mounted.
    '--disable-admission-plugins=ServiceAccount',
    '--enable-priority-and-fairness=false',
    '--profiling=false',
  ];
  let apiserver: ChildProcess | undefined;
  const kube = await startKubeClient(fabricNs, kubeconfig);

  const waitReady = async (): Promise<void> => {
    for (let i = 0; i < 600; i++) {
      const r = await kube.request({ op: 'readyz' });
      if (r.status === 200) return;
      if (apiserver?.exitCode !== null && apiserver?.exitCode !== undefined) throw new Error(`kube-apiserver exited (${apiserver.exitCode})`);
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('kube-apiserver not ready after 60 s');
  };
  const startApiServer = async (): Promise<void> => {
    apiserver = spawn('kube-apiserver', apiserverArgs);
    await waitReady();
  };

  let controllerManager: ChildProcess | undefined;
  const startControllerManager = (): void => {
    if (options.controllerManager === false) return;
    controllerManager = spawn('kube-controller-manager', [
      `--kubeconfig=${kubeconfig}`,
      '--controllers=endpointslice',
      '--leader-elect=false',
      '--secure-port=0',
      '--endpointslice-updates-batch-period=0s',
    ]);
  };

  const stop = async (): Promise<void> => {
    kube.close();
    await stopProcess(controllerManager);
    await stopProcess(apiserver);
    await stopProcess(etcd);
  };

  try {
    await startApiServer();
    startControllerManager();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    server,
    kubeconfig,
    kube,
    stopApiServer: () => stopProcess(apiserver),
    async startApiServer() {
      await startApiServer();
      await stopProcess(controllerManager);
      startControllerManager();
    },
    stop,
  };
}
