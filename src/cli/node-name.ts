// This node's name when no flag gives it: kube-proxy's rule (component-helpers node/util/hostname.go
// GetHostname, lines 28-45: the override, else the host name, trimmed and lower-cased).
import { ErrorCode, KbpError } from '../errors.js';

/** `given`: --node-name or $NODE_NAME (commander reads both); `hostname`: the kernel's host name. */
export function resolveNodeName(given: string | undefined, hostname: string): string {
  const name = (given ?? hostname).trim().toLowerCase();
  if (name === '') throw new KbpError(ErrorCode.InvalidConfig, 'the node name is empty: set --node-name or NODE_NAME');
  return name;
}
