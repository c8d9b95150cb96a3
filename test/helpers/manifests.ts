// Writing Service and EndpointSlice manifests for namespace tests.
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';

export interface PortSpec {
  name: string;
  port: number;
  targetPort: number | string;
  protocol?: 'TCP' | 'UDP';
}

export interface EndpointSpec {
  ip: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export function serviceManifest(
  name: string,
  clusterIP: string,
  ports: PortSpec[],
  slicePorts: { name: string; port: number; protocol?: 'TCP' | 'UDP' }[],
  endpoints: EndpointSpec[],
): string {
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'test' },
    spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ports: ports.map((p) => ({ protocol: 'TCP', ...p })) },
  };
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-slice`, namespace: 'test', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: slicePorts.map((p) => ({ protocol: 'TCP', ...p })),
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false },
      nodeName: 'node-a',
    })),
  };
  return `${stringify(service)}---\n${stringify(slice)}`;
}

export function writeManifest(dir: string, file: string, content: string): void {
  // Write then rename, as editors and kubectl-like tools do, so the agent never reads half a file.
  const tmp = path.join(dir, `.${file}.tmp`);
  writeFileSync(tmp, content);
  renameSync(tmp, path.join(dir, file));
}
