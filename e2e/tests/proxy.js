// A TCP proxy in front of the server, to give one browser tab a network
// that can fail: cut() drops every connection through it and refuses new
// ones until restore(). Pages loaded through it have their own origin
// (its port), so their websocket goes through it too.
const net = require('node:net');

async function startProxy(targetPort) {
  const sockets = new Set();
  let down = false;
  const srv = net.createServer((client) => {
    if (down) { client.destroy(); return; }
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  return {
    base: `http://127.0.0.1:${port}`,
    // cut returns how many connections it dropped.
    cut() { down = true; const n = sockets.size; for (const s of sockets) s.destroy(); return n; },
    open: () => sockets.size,
    restore() { down = false; },
    close() { down = true; for (const s of sockets) s.destroy(); return new Promise((r) => srv.close(r)); },
  };
}

module.exports = { startProxy };
