// Messages between the benchmark and its prober (bench/prober.ts). Times: CLOCK_MONOTONIC, ms.
export type ProbeRequest =
  | { op: 'sweep'; targets: string[]; port: number; concurrency: number; attemptTimeoutMs: number; timeoutMs: number }
  | { op: 'watch-start'; target: string; port: number; concurrency: number }
  | { op: 'watch-stop' }
  | { op: 'served'; endpoint: string; sinceMs: number; timeoutMs: number }
  | { op: 'gone'; endpoint: string; sinceMs: number; quiet: number; timeoutMs: number };

export interface ProbeReply {
  allAnsweredAtMs?: number | null;
  unanswered?: number;
  attempts?: number;
  atMs?: number | null;
}
