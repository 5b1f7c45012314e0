// What both hand-written peer servers (bullmq.server.mjs, bpmn-engine.server.mjs) need of HTTP:
// answering JSON and reading a JSON body. Copied beside each server into its install folder.
export function send(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }).end(data);
}

export function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try { resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {}); } catch (err) { reject(err); }
    });
    req.on('error', reject);
  });
}
