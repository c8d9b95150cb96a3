// A client living in a pod namespace, driven over IPC by a test or the demo: it sends requests from
// inside the pod and reports which backend answered each.
import http from 'node:http';
import net from 'node:net';
import dgram from 'node:dgram';
import type { ClientReply, ClientRequest } from './pod-client-protocol.js';

function httpGet(host: string, port: number, timeoutMs: number): Promise<string> {
  return httpRequest(host, port, timeoutMs).then((r) => r.body);
}

function httpRequest(
  host: string,
  port: number,
  timeoutMs: number,
  path = '/',
  send: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, method: send.method ?? 'GET', headers: send.headers, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(send.body);
  });
}

async function httpMany(host: string, port: number, count: number, concurrency: number): Promise<ClientReply> {
  const byBackend: Record<string, number> = {};
  const seenFrom: Record<string, number> = {};
  const errors: string[] = [];
  let next = 0;
  async function worker(): Promise<void> {
    while (next < count) {
      next++;
      try {
        const [backend = '', peer = ''] = (await httpGet(host, port, 5000)).split(' ');
        byBackend[backend] = (byBackend[backend] ?? 0) + 1;
        const from = peer.slice(0, peer.lastIndexOf(':'));
        seenFrom[from] = (seenFrom[from] ?? 0) + 1;
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { byBackend, seenFrom, failures: errors.length, errors: errors.slice(0, 10) };
}

function connectOutcome(host: string, port: number, timeoutMs: number): Promise<ClientReply> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (outcome: string): void => {
      socket.destroy();
      resolve({ outcome, ms: Date.now() - started });
    };
    socket.setTimeout(timeoutMs, () => done('timeout'));
    socket.on('connect', () => done('connected'));
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'refused' : (err.code ?? err.message)));
  });
}

function udpQuery(host: string, port: number, timeoutMs: number): Promise<ClientReply> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const done = (reply: ClientReply): void => {
      clearTimeout(timer);
      socket.close();
      resolve({ ...reply, ms: Date.now() - started });
    };
    const timer = setTimeout(() => done({ outcome: 'timeout' }), timeoutMs);
    socket.on('message', (msg) => done({ outcome: 'answered', backend: msg.toString() }));
    // A connected UDP socket learns of ICMP port unreachable as ECONNREFUSED.
    socket.on('error', (err: NodeJS.ErrnoException) => done({ outcome: err.code === 'ECONNREFUSED' ? 'refused' : (err.code ?? err.message) }));
    socket.connect(port, host, () => socket.send('who'));
  });
}

/** Long-lived line connections, by id, answering which backend serves each line. */
const sessions = new Map<string, { socket: net.Socket; pending: ((line: string) => void)[] }>();

function sessionOpen(id: string, host: string, port: number, localPort?: number): Promise<ClientReply> {
  return new Promise((resolve) => {
    // A fixed local port makes the same ports again, e.g. straight to a backend after its service.
    const socket = net.connect({ host, port, ...(localPort === undefined ? {} : { localPort }) });
    const session = { socket, pending: [] as ((line: string) => void)[] };
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        session.pending.shift()?.(line);
      }
    });
    socket.on('connect', () => {
      sessions.set(id, session);
      resolve({ outcome: 'connected', localPort: socket.localPort });
    });
    socket.on('error', (err) => {
      for (const p of session.pending.splice(0)) p(`error: ${err.message}`);
      resolve({ outcome: err.message });
    });
    socket.on('close', () => {
      for (const p of session.pending.splice(0)) p('error: closed');
    });
  });
}

function sessionAsk(id: string): Promise<ClientReply> {
  const session = sessions.get(id);
  if (!session) return Promise.resolve({ outcome: 'no such session' });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ outcome: 'timeout' }), 3000);
    session.pending.push((line) => {
      clearTimeout(timer);
      resolve(line.startsWith('error') ? { outcome: line } : { outcome: 'answered', backend: line });
    });
    session.socket.write('who\n');
  });
}

/** A half-closed connection: our FIN first, then the server's answer `afterMs` later. */
function halfClose(host: string, port: number, afterMs: number): Promise<ClientReply> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect({ host, port, allowHalfOpen: true });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ outcome: 'timeout' });
    }, afterMs + 5000);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.end(`after ${afterMs}\n`));
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('end', () => {
      clearTimeout(timer);
      resolve({ outcome: data === '' ? 'closed without an answer' : 'answered', backend: data.trim(), ms: performance.now() - started });
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      resolve({ outcome: err.message });
    });
  });
}

/** UDP "connections": one socket (so one source port, one flow) per id, asked again and again. */
const udpSessions = new Map<string, dgram.Socket>();

function udpOpen(id: string, host: string, port: number, localPort?: number): Promise<ClientReply> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const connect = (): void =>
      socket.connect(port, host, () => {
        udpSessions.set(id, socket);
        resolve({ outcome: 'connected', localPort: socket.address().port });
      });
    // A fixed source port makes the same 5-tuple again, e.g. sent through another node.
    if (localPort === undefined) connect();
    else socket.bind(localPort, connect);
  });
}

function udpAsk(id: string, timeoutMs: number): Promise<ClientReply> {
  const socket = udpSessions.get(id);
  if (!socket) return Promise.resolve({ outcome: 'no such session' });
  return new Promise((resolve) => {
    const done = (reply: ClientReply): void => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(reply);
    };
    const onMessage = (msg: Buffer): void => done({ outcome: 'answered', backend: msg.toString() });
    const timer = setTimeout(() => done({ outcome: 'timeout' }), timeoutMs);
    socket.on('message', onMessage);
    socket.send('who');
  });
}

/** A request loop that runs until stopped, counting successes and failures (restart tests). */
let loop: { stop: boolean; ok: number; failed: number; errors: string[]; done: Promise<void> } | undefined;

function loopStart(host: string, port: number, intervalMs: number): ClientReply {
  const state = { stop: false, ok: 0, failed: 0, errors: [] as string[], done: Promise.resolve() };
  state.done = (async () => {
    while (!state.stop) {
      try {
        await httpGet(host, port, 2000);
        state.ok++;
      } catch (err) {
        state.failed++;
        if (state.errors.length < 10) state.errors.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  loop = state;
  return { outcome: 'started' };
}

async function loopStop(): Promise<ClientReply> {
  if (!loop) return { outcome: 'not running' };
  loop.stop = true;
  await loop.done;
  const { ok, failed, errors } = loop;
  loop = undefined;
  return { outcome: 'stopped', ok, failed, errors };
}

async function handle(req: ClientRequest): Promise<ClientReply> {
  switch (req.op) {
    case 'http':
      return httpMany(req.host, req.port, req.count, req.concurrency ?? 16);
    case 'connect':
      return connectOutcome(req.host, req.port, req.timeoutMs ?? 3000);
    case 'status':
      return httpRequest(req.host, req.port, req.timeoutMs ?? 3000, req.path, req).then(
        (r) => ({ outcome: 'answered', status: r.status, body: r.body }),
        (err: unknown) => ({ outcome: err instanceof Error ? err.message : String(err) }),
      );
    case 'udp':
      return udpQuery(req.host, req.port, req.timeoutMs ?? 3000);
    case 'session-open':
      return sessionOpen(req.id, req.host, req.port, req.localPort);
    case 'half-close':
      return halfClose(req.host, req.port, req.afterMs);
    case 'session-ask':
      return sessionAsk(req.id);
    case 'udp-close':
      udpSessions.get(req.id)?.close();
      udpSessions.delete(req.id);
      return { outcome: 'closed' };
    case 'session-close':
      sessions.get(req.id)?.socket.destroy();
      sessions.delete(req.id);
      return { outcome: 'closed' };
    case 'udp-open':
      return udpOpen(req.id, req.host, req.port, req.localPort);
    case 'udp-ask':
      return udpAsk(req.id, req.timeoutMs ?? 2000);
    case 'loop-start':
      return loopStart(req.host, req.port, req.intervalMs ?? 20);
    case 'loop-stop':
      return loopStop();
  }
}

process.on('message', (msg: { seq: number; req: ClientRequest }) => {
  handle(msg.req).then(
    (reply) => process.send?.({ seq: msg.seq, reply }),
    (err: unknown) => process.send?.({ seq: msg.seq, reply: { outcome: `client error: ${err instanceof Error ? err.message : String(err)}` } }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
