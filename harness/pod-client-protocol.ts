// Messages between a driver and a pod client (src/sandbox/pod-client.ts).
export type ClientRequest =
  | { op: 'http'; host: string; port: number; count: number; concurrency?: number }
  | { op: 'connect'; host: string; port: number; timeoutMs?: number }
  | { op: 'status'; host: string; port: number; path?: string; method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number }
  | { op: 'udp'; host: string; port: number; timeoutMs?: number }
  | { op: 'session-open'; id: string; host: string; port: number; localPort?: number }
  /** Connects, asks the half-close server (pod-server.ts, 9001) to answer `afterMs` after our FIN, sends the FIN, reads the answer. */
  | { op: 'half-close'; host: string; port: number; afterMs: number }
  | { op: 'session-ask'; id: string }
  | { op: 'session-close'; id: string }
  | { op: 'udp-open'; id: string; host: string; port: number; localPort?: number }
  | { op: 'udp-ask'; id: string; timeoutMs?: number }
  | { op: 'udp-close'; id: string }
  | { op: 'loop-start'; host: string; port: number; intervalMs?: number }
  | { op: 'loop-stop' };

export interface ClientReply {
  outcome?: string;
  backend?: string;
  ms?: number;
  /** HTTP status code and body. */
  status?: number;
  body?: string;
  localPort?: number;
  byBackend?: Record<string, number>;
  /** The client addresses the backends saw, with counts (HTTP). */
  seenFrom?: Record<string, number>;
  failures?: number;
  ok?: number;
  failed?: number;
  errors?: string[];
}
