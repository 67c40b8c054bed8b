// Scenario 4 of issue 6: a hostile native volunteer that returns wrong
// results joins two honest ones. No wrong chunk may be accepted (the final
// result equals `pulsegrid run`), and the liar's reputation falls: it earns
// some with honest results, then loses it at its first lie. The standing is
// read from the server's database (e2e/hostile's `standing` mode): neither
// the API nor the admin grid page lists volunteers yet.
const { test, expect } = require('@playwright/test');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, shared, root } = require('./server');
const { clinician, client, metric, reference } = require('./api');

test('a lying volunteer is outvoted and loses its reputation', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pulsegrid-hostile-'));
  const hostileBin = path.join(tmp, 'hostile');
  execFileSync('go', ['build', '-o', hostileBin, './e2e/hostile'], { cwd: root, stdio: 'inherit' });
  // 60 s chunks: 30 chunks per record, so that the liar gets honest ones
  // first and lies on many after.
  const server = await startServer(['--chunk-seconds', '60']);
  try {
    // An admin made with the CLI (a chosen password, no forced change).
    const admin = { email: 'grid-admin@example.org', password: 'Admin-Correct-Horse-42' };
    server.cli(['user', 'add', '--email', admin.email, '--role', 'admin', '--password', admin.password]);
    const clin = clinician(server, 'hostile-test@example.org');
    const api = client(server.base, clin.token);
    const rec = path.join(shared, 'data', 'mitdb', '119');
    const files = [`${rec}.hea`, `${rec}.dat`];
    const ds = await api.upload(files);
    const id = await api.analyse(ds, 'ecg.beats@1');

    // The liar connects first so that it is in from the start.
    const honest = 3;
    const liar = spawn(hostileBin, ['--server', server.base, '--honest', String(honest)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let liarOut = '';
    liar.stdout.on('data', (d) => { liarOut += d; });
    liar.stderr.on('data', (d) => { liarOut += d; });
    try {
      await expect.poll(() => /^connected (\S+)/m.test(liarOut)).toBe(true);
      const liarID = /^connected (\S+)/m.exec(liarOut)[1];
      for (let i = 0; i < 2; i++) server.spawn(['volunteer', '--server', server.base, '--workers', '1']);

      await api.waitDone(id, 120_000);
      const grid = await api.result(id, 'json');
      const local = reference('ecg.beats@1', files, tmp);
      expect(grid.beats.length).toBe(local.beats.length);
      expect(grid).toEqual(local);

      // The liar lied and was caught. It earned reputation with its honest
      // results (each verified verdict adds one), so a stored reputation of 0
      // means a lie took it away.
      const count = (re) => liarOut.split('\n').filter((l) => re.test(l)).length;
      expect(count(/^cheated/), `the liar never lied:\n${liarOut}`).toBeGreaterThanOrEqual(1);
      expect(await metric(server.base, 'pulsegrid_results_rejected_total')).toBeGreaterThanOrEqual(1);

      // The standing the server stored: the liar's reputation is back to 0
      // with its rejections on record; every honest volunteer kept a
      // positive one and has no rejection.
      const honestIDs = server.children().map((c) => /connected to \S+ as (\S+)/.exec(c.log())?.[1]);
      expect(honestIDs.every(Boolean), server.children().map((c) => c.log()).join('\n')).toBe(true);
      const standing = () => {
        try {
          return execFileSync(hostileBin, ['standing', '--data', server.data, liarID, ...honestIDs], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
            .trim().split('\n').map((l) => JSON.parse(l));
        } catch {
          return null; // not written yet
        }
      };
      // The grid writes volunteer records every 5 s, and the last verdicts
      // may reach the liar after the analysis is done: wait until the stored
      // counts and the verdicts the liar received agree.
      await expect.poll(() => {
        const s = standing();
        return s && `${s[0].validated} verified, ${s[0].rejected} rejected`;
      }, { timeout: 20_000 }).toBe(`${count(/ verified$/)} verified, ${count(/ rejected$/)} rejected`);
      const [liarStanding, ...honestStanding] = standing();
      console.log(`standing: liar ${JSON.stringify(liarStanding)}; honest ${JSON.stringify(honestStanding)}`);
      expect(liarStanding.validated, `the liar's honest results were never verified:\n${liarOut}`).toBeGreaterThanOrEqual(1);
      // Only its first `honest` outputs were true: none of its forgeries was accepted.
      expect(liarStanding.validated).toBeLessThanOrEqual(honest);
      expect(liarStanding.rejected).toBeGreaterThanOrEqual(1);
      expect(liarStanding.reputation).toBe(0);
      for (const h of honestStanding) {
        expect(h.rejected).toBe(0);
        expect(h.reputation).toBeGreaterThan(0);
      }
    } finally {
      liar.kill('SIGTERM');
    }
  } finally {
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
