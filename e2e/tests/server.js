// Starts the real pulsegrid binary on a free loopback port with a temporary
// data directory, and stops it (and everything it started) afterwards.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
// PULSEGRID_BIN runs another build of the binary (e.g. one under test elsewhere).
const bin = process.env.PULSEGRID_BIN || path.join(root, 'bin', 'pulsegrid');
const shared = path.resolve(root, '..', 'shared');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(base, proc, deadlineMs = 30_000) {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`pulsegrid serve exited with ${proc.exitCode}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return;
    } catch { /* not yet listening */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no answer from ${base}/healthz within ${deadlineMs} ms`);
}

// startServer returns { base, data, port, log(), cli(args), spawn(args), children(), stop() }.
async function startServer(extraArgs = []) {
  const port = await freePort();
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'pulsegrid-e2e-'));
  const base = `http://127.0.0.1:${port}`;
  let out = '';
  // Every browser and volunteer of a test is on this machine, one network:
  // --allow-same-network lets them verify each other, as make run does.
  const proc = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`, '--data', data, '--allow-same-network', ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  await waitHealthy(base, proc);
  const children = [];
  return {
    base, data, port,
    log: () => out,
    children: () => children.slice(),
    cli: (args) => execFileSync(bin, [...args, '--data', data], { encoding: 'utf8' }),
    spawn: (args) => {
      const c = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let clog = '';
      c.stdout.on('data', (d) => { clog += d; });
      c.stderr.on('data', (d) => { clog += d; });
      c.log = () => clog;
      children.push(c);
      return c;
    },
    async stop() {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => { proc.once('exit', r); setTimeout(r, 5000); });
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      fs.rmSync(data, { recursive: true, force: true });
    },
  };
}

module.exports = { startServer, shared, root, bin };
