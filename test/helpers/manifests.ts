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

/** The agent's flags for one simulated node serving a manifest directory: outside traffic on its eth0. */
export function nodeAgentArgs(node: { name: string; sandbox: { pinDir: string } }, dir: string, hairpinAddress: string): string[] {
  return ['--manifests', dir, '--node-name', node.name, '--node-interface', 'eth0', '--pin-dir', node.sandbox.pinDir, '--hairpin-address', hairpinAddress];
}

/** A Node object with one InternalIP, as a simulated node's agent reads it. */
export function nodeObject(node: { name: string; address: string }): object {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name: node.name }, status: { addresses: [{ type: 'InternalIP', address: node.address }] } };
}

/** A Service object in namespace "test" with its cluster IP, the rest of its spec and its status. */
export function serviceObject(name: string, clusterIP: string, spec: object, status: object = {}): object {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'test' }, spec: { clusterIP, clusterIPs: [clusterIP], ...spec }, status };
}

/** The EndpointSlice of service `name`: ready endpoints, each on its node. */
export function sliceObject(name: string, ports: { name: string; port: number; protocol?: string }[], endpoints: { ip: string; nodeName: string }[]): object {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-1`, namespace: 'test', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: ports.map((p) => ({ protocol: 'TCP', ...p })),
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: true }, nodeName: e.nodeName })),
  };
}
