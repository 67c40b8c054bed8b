// worker.js is one thread of the browser volunteer: a dedicated Web Worker
// that runs wasmworker (Go compiled to WebAssembly; its package comment is
// the reference for the API used here) and relays messages between it and
// the page (donate.js).
//
// Page → worker (postMessage):
//   {type:'init', wasmExec: URL, wasm: URL}   load wasm_exec.js and the module (first message)
//   {type:'start', options: {server, identity, cpu, agent}}
//   {type:'pause'} {type:'resume'} {type:'stop'} {type:'setCPU', cpu: N}
// Worker → page: what wasmworker emits ({type:'ready'|'event'|'state', …}),
// each with `memory` (bytes of the module's linear memory) added, and
// {type:'error', error} when loading or a call fails.
'use strict';

let api = null;      // globalThis.pulsegrid once the Go program has started
let memory = null;   // the module's exported linear memory
const pending = [];  // messages that arrived before the module was ready

self.pulsegridEmit = (json) => {
  const m = JSON.parse(json);
  if (m.type === 'ready') {
    api = self.pulsegrid;
    // Not from inside this call: Go is still on the stack that emitted 'ready'.
    setTimeout(() => { for (const p of pending.splice(0)) dispatch(p); }, 0);
  }
  m.memory = memory ? memory.buffer.byteLength : 0;
  self.postMessage(m);
};

function dispatch(m) {
  let err = null;
  switch (m.type) {
    case 'start': err = api.start(JSON.stringify(m.options)); break;
    case 'pause': api.pause(); break;
    case 'resume': api.resume(); break;
    case 'stop': api.stop(); break;
    case 'setCPU': api.setCPU(Number(m.cpu)); break;
    default: err = `unknown message type ${JSON.stringify(m.type)}`;
  }
  if (err) self.postMessage({ type: 'error', error: String(err) });
}

async function load(wasmExec, wasm) {
  try {
    importScripts(wasmExec);
    const go = new Go();
    let result;
    try {
      result = await WebAssembly.instantiateStreaming(fetch(wasm), go.importObject);
    } catch (streamErr) {
      // A proxy that rewrote the MIME type: compile from bytes instead.
      const resp = await fetch(wasm);
      if (!resp.ok) throw new Error(`GET ${wasm}: HTTP ${resp.status}`);
      result = await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject);
    }
    memory = result.instance.exports.mem;
    go.run(result.instance).then(() => self.postMessage({ type: 'state', state: 'exited' }));
  } catch (e) {
    self.postMessage({ type: 'error', error: `loading the volunteer module: ${e && e.message ? e.message : e}` });
  }
}

self.onmessage = (e) => {
  const m = e.data || {};
  if (m.type === 'init') {
    load(m.wasmExec, m.wasm);
  } else if (api && pending.length === 0) {
    dispatch(m);
  } else {
    pending.push(m);
  }
};
