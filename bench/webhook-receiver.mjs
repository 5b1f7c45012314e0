// A webhook subscriber for the benchmark, in its own process so that it does not share the hub's
// event loop: answers 204 to every delivery and counts them.
import { createServer } from 'node:http';

let deliveries = 0;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    deliveries++;
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => {
  process.stderr.write(`webhook receiver: ${deliveries} deliveries\n`);
  process.exit(0);
});
