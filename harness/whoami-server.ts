// A pod's "whoami" HTTP server for the benchmark bed: every answer's body is the local address the
// connection arrived at, so a prober can tell which endpoint IP served it when the pod answers on
// a whole range of addresses (docs/ARCHITECTURE.md §6, bench bed). Usage: whoami-server.js PORT
import http from 'node:http';

const port = Number(process.argv[2] ?? 8081);

const server = http.createServer((req, res) => {
  // Bound to 0.0.0.0, so the address is IPv4 as it stands; any request path answers the same.
  const body = req.socket.localAddress ?? '';
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(port, '0.0.0.0', () => process.send?.({ ready: true }));
process.on('disconnect', () => process.exit(0));
