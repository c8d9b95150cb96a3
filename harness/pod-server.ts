// A pod's tiny servers, answering with the pod's name so a test can see which backend served:
// HTTP on 8080 and 8081 (body "NAME PEER_IP:PEER_PORT"), a line server on 9000 (each line answered
// with "NAME"), a half-close server on 9001 (told "after MS", it answers "NAME" MS after the client's
// FIN, then closes), UDP on 5353 (each datagram answered with "NAME").
import http from 'node:http';
import net from 'node:net';
import dgram from 'node:dgram';

const name = process.argv[2] ?? 'pod';

for (const port of [8080, 8081]) {
  http
    .createServer((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`${name} ${req.socket.remoteAddress}:${req.socket.remotePort}`);
    })
    .listen(port, '0.0.0.0');
}

net
  .createServer((socket) => {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      for (let i = 0; i < chunk.split('\n').length - 1; i++) socket.write(`${name}\n`);
    });
    socket.on('error', () => socket.destroy());
  })
  .listen(9000, '0.0.0.0');

net
  .createServer({ allowHalfOpen: true }, (socket) => {
    let said = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (said += chunk));
    socket.on('end', () => {
      const afterMs = Number(/after (\d+)/.exec(said)?.[1] ?? 0);
      setTimeout(() => socket.end(`${name}\n`), afterMs);
    });
    socket.on('error', () => socket.destroy());
  })
  .listen(9001, '0.0.0.0');

const udp = dgram.createSocket('udp4');
udp.on('message', (_msg, rinfo) => udp.send(name, rinfo.port, rinfo.address));
udp.bind(5353, '0.0.0.0', () => process.send?.({ ready: true }));
console.log(`${name} serving`);
