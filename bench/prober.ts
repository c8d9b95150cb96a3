// The benchmark's prober, run in the client pod and driven over IPC: it tells when services answer
// by traffic, never by a proxy's log. Times are CLOCK_MONOTONIC in ms (process.hrtime), the same clock
// the benchmark reads in its own process.
//   sweep: HTTP GETs to every target until each has answered once -> when the last one first did;
//   watch: new connections to one target back to back, recording which endpoint answered each
//   (the whoami server's body is the address it was reached at), for served / gone questions.
import net from 'node:net';
import type { ProbeReply, ProbeRequest } from './prober-protocol.js';

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** One HTTP/1.0 GET on a fresh connection: the status and body, or null when nothing answered. */
function get(host: string, port: number, timeoutMs: number): Promise<{ status: number; body: string } | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let data = '';
    const done = (r: { status: number; body: string } | null): void => {
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(timeoutMs, () => done(null));
    socket.on('connect', () => socket.write(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
    socket.on('data', (c: Buffer) => (data += c.toString()));
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.\d (\d+)/.exec(data)?.[1] ?? 0);
      done(status ? { status, body: data.slice(data.indexOf('\r\n\r\n') + 4).trim() } : null);
    });
    socket.on('error', () => done(null));
  });
}

async function sweep(req: Extract<ProbeRequest, { op: 'sweep' }>): Promise<ProbeReply> {
  const pending = new Set(req.targets);
  // A ring of the pending targets: index arithmetic, not Array.shift over tens of thousands.
  const queue = [...req.targets];
  let head = 0;
  const deadline = nowMs() + req.timeoutMs;
  let lastFirstAnswer = 0;
  let attempts = 0;
  const worker = async (): Promise<void> => {
    while (pending.size > 0 && nowMs() < deadline) {
      const target = head < queue.length ? queue[head++] : undefined;
      if (head > 65536) {
        queue.splice(0, head);
        head = 0;
      }
      if (target === undefined) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      attempts++;
      // Short: a service not programmed yet may just drop the SYN (the node's ICMP answers are
      // rate-limited), and a pass over every pending service must stay quick.
      const r = await get(target, req.port, req.attemptTimeoutMs);
      if (r?.status === 200) {
        pending.delete(target);
        lastFirstAnswer = nowMs();
      } else queue.push(target);
    }
  };
  await Promise.all(Array.from({ length: req.concurrency }, worker));
  return { allAnsweredAtMs: pending.size === 0 ? lastFirstAnswer : null, unanswered: pending.size, attempts };
}

/** The watch: every probe's start time and the endpoint that answered it (null: no answer). */
const records: { startMs: number; endpoint: string | null }[] = [];
let watching = false;

async function watch(req: Extract<ProbeRequest, { op: 'watch-start' }>): Promise<void> {
  const worker = async (): Promise<void> => {
    while (watching) {
      const startMs = nowMs();
      const r = await get(req.target, req.port, 1000);
      records.push({ startMs, endpoint: r?.status === 200 ? r.body : null });
      if (records.length > 200_000) records.splice(0, 100_000);
    }
  };
  await Promise.all(Array.from({ length: req.concurrency }, worker));
}

/** Polls the records until `test` finds its answer or the time is up. */
async function until<T>(timeoutMs: number, test: () => T | undefined): Promise<T | null> {
  const deadline = nowMs() + timeoutMs;
  for (;;) {
    const found = test();
    if (found !== undefined) return found;
    if (nowMs() > deadline) return null;
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Forgets probes older than a change being asked about, so each poll looks at the few since. */
function forgetBefore(ms: number): void {
  const keep = records.filter((r) => r.startMs >= ms - 1000);
  records.length = 0;
  records.push(...keep);
}

async function handle(req: ProbeRequest): Promise<ProbeReply> {
  switch (req.op) {
    case 'sweep':
      return sweep(req);
    case 'watch-start':
      watching = true;
      records.length = 0;
      void watch(req);
      return {};
    case 'watch-stop':
      watching = false;
      return {};
    case 'served': {
      forgetBefore(req.sinceMs);
      // The first probe started after the change that the new endpoint answered.
      const at = await until(req.timeoutMs, () => records.find((r) => r.startMs >= req.sinceMs && r.endpoint === req.endpoint)?.startMs);
      return { atMs: at };
    }
    case 'gone': {
      forgetBefore(req.sinceMs);
      // The first probe after the last one the old endpoint answered, once `quiet` probes in a row
      // went elsewhere (the probes before it still reached the old state).
      const at = await until(req.timeoutMs, () => {
        const after = records.filter((r) => r.startMs >= req.sinceMs && r.endpoint !== null).sort((a, b) => a.startMs - b.startMs);
        const last = after.findLastIndex((r) => r.endpoint === req.endpoint);
        if (after.length - last - 1 < req.quiet) return undefined;
        return after[last + 1]?.startMs ?? req.sinceMs;
      });
      return { atMs: at };
    }
  }
}

process.on('message', (m: { seq: number; req: ProbeRequest }) => {
  void handle(m.req).then((reply) => process.send?.({ seq: m.seq, reply }));
});
process.send?.({ ready: true });
