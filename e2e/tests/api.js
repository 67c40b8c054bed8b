// JSON API helpers for the parts of a scenario that are set-up, not the
// subject: clinicians made with the CLI, uploads and status polling with a
// bearer token.
const fs = require('node:fs');
const path = require('node:path');

// clinician creates an account with the CLI and returns {email, password, token}.
function clinician(server, email, password = 'Correct-Horse-Battery-42') {
  server.cli(['user', 'add', '--email', email, '--role', 'clinician', '--password', password]);
  const out = server.cli(['user', 'token', '--email', email]).trim().split('\n');
  const token = out[out.length - 1].trim().split(/\s+/).pop();
  return { email, password, token };
}

function client(base, token) {
  const auth = { Authorization: `Bearer ${token}` };
  const call = async (method, p, body, headers = {}) => {
    const r = await fetch(`${base}/api/v1${p}`, { method, headers: { ...auth, ...headers }, body });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, json, text };
  };
  return {
    call,
    // upload sends the files of one recording as multipart field "files".
    async upload(files) {
      const fd = new FormData();
      for (const f of files) fd.append('files', new Blob([fs.readFileSync(f)]), path.basename(f));
      const r = await call('POST', '/datasets', fd);
      if (r.status >= 300) throw new Error(`upload ${files.join(', ')}: ${r.status} ${r.text}`);
      return r.json.id;
    },
    async analyse(datasetId, algorithm, params = {}) {
      const r = await call('POST', '/analyses', JSON.stringify({ dataset_id: datasetId, algorithm, params, priority: 'routine' }), { 'Content-Type': 'application/json' });
      if (r.status >= 300) throw new Error(`start ${algorithm}: ${r.status} ${r.text}`);
      return r.json.id;
    },
    async analysis(id) {
      const r = await call('GET', `/analyses/${id}`);
      if (r.status !== 200) throw new Error(`GET /api/v1/analyses/${id}: ${r.status} ${r.text}`);
      return r.json;
    },
    // waitDone polls until the analysis is done; a failed or cancelled one throws.
    async waitDone(id, timeoutMs = 120_000) {
      const until = Date.now() + timeoutMs;
      let a;
      while (Date.now() < until) {
        a = await this.analysis(id);
        if (a.status === 'done') return a;
        if (a.status === 'failed' || a.status === 'cancelled') throw new Error(`analysis ${id} ${a.status}: ${a.error}`);
        await new Promise((r) => setTimeout(r, 300));
      }
      throw new Error(`analysis ${id} not done after ${timeoutMs} ms: ${JSON.stringify(a)}`);
    },
    async result(id, format = 'json') {
      const r = await call('GET', `/analyses/${id}/result?format=${format}`);
      if (r.status !== 200) throw new Error(`result of ${id}: ${r.status} ${r.text}`);
      return format === 'json' ? r.json : r.text;
    },
  };
}

// metric reads one counter or gauge from /metrics (0 when absent).
async function metric(base, name) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

module.exports = { clinician, client, metric };

// reference runs `pulsegrid run ALGORITHM FILES` (the pipeline without the
// grid) and returns its JSON result.
// extra are more flags, e.g. ['--chunk-seconds', '60'] to cut the chunks
// the way the grid did.
function reference(algorithm, files, dir, extra = []) {
  const { execFileSync } = require('node:child_process');
  const { bin } = require('./server');
  const out = path.join(dir, `reference-${algorithm}-${path.basename(files[0])}.json`);
  execFileSync(bin, ['run', algorithm, ...files, '--out', out, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  return JSON.parse(fs.readFileSync(out, 'utf8'));
}

module.exports.reference = reference;
