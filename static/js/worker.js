// worker.js is one thread of the browser volunteer: a dedicated Web Worker
// that runs wasmworker (Go compiled to WebAssembly; its package comment is
// the reference for the API used here) and relays messages between it and
// the page (donate.js).
//
// Page → worker (postMessage):
//   {type:'init', wasmExec: URL, wasm: URL}   load wasm_exec.js and the module (first message)
//   {type:'start', options: {server, identity, cpu, agent}}
//   {type:'pause'} {type:'resume'} {type:'stop'} {type:'setCPU', cpu: N}
// Worker → page: what wasmworker emits ({type:'ready'|'events'|'state', …};
// events come in batches, see wasmworker), each with `memory` (bytes of the
// module's linear memory) added, and {type:'error', error} when loading or a
// call fails.
//
// The websocket lives in a second thread. Loaded with the fragment #socket,
// this same script is a socket relay: a nested worker that owns the real
// WebSocket and passes frames to and from this one by postMessage (binary
// frames transferred, not copied). Chromium moves a received frame from its
// network process to the thread that owns the socket in steps, each of
// which waits for that thread's event loop; the Go program does not return
// to the event loop while it computes, so a lease that arrived during a
// chunk only started to come in after it (1–3 ms for a 170 KB lease, tens
// of ms for 5 MB). The relay's thread is idle and takes frames as they
// come; the Go thread gets each whole, in one message. The Go code sees a
// WebSocket (RelayedWebSocket below) that behaves the same; where workers
// cannot start workers it uses the real one.
'use strict';

const SOCKET_RELAY = self.location.hash === '#socket';

// ---- socket relay (this script in the nested worker)

function runSocketRelay() {
  const sockets = new Map(); // id → WebSocket
  self.onmessage = (e) => {
    const m = e.data || {};
    const ws = sockets.get(m.id);
    switch (m.op) {
      case 'open': {
        let s;
        try {
          s = new WebSocket(m.url, m.protocols);
        } catch (err) {
          self.postMessage({ id: m.id, type: 'error' });
          self.postMessage({ id: m.id, type: 'close', code: 1006, reason: String(err && err.message), wasClean: false });
          return;
        }
        s.binaryType = 'arraybuffer';
        sockets.set(m.id, s);
        s.onopen = () => self.postMessage({ id: m.id, type: 'open', protocol: s.protocol });
        s.onmessage = (ev) => {
          if (typeof ev.data === 'string') self.postMessage({ id: m.id, type: 'message', data: ev.data });
          else self.postMessage({ id: m.id, type: 'message', data: ev.data }, [ev.data]);
        };
        s.onerror = () => self.postMessage({ id: m.id, type: 'error' });
        s.onclose = (ev) => {
          sockets.delete(m.id);
          self.postMessage({ id: m.id, type: 'close', code: ev.code, reason: ev.reason, wasClean: ev.wasClean });
        };
        break;
      }
      case 'send':
        if (ws && ws.readyState === 1) ws.send(m.data);
        break;
      case 'close':
        if (ws) ws.close(m.code, m.reason); // codes were checked by RelayedWebSocket
        break;
    }
  };
}

// ---- the relay's WebSocket, as the Go program sees it

let relay = null;          // the nested worker, started with the first socket
const relayed = new Map(); // id → RelayedWebSocket
let nextSocketID = 0;

function socketRelay() {
  if (!relay) {
    relay = new Worker(`${self.location.href.split('#')[0]}#socket`);
    relay.onmessage = (e) => {
      const m = e.data;
      const ws = relayed.get(m.id);
      if (ws) ws.fromRelay(m);
    };
  }
  return relay;
}

// RelayedWebSocket has the part of the WebSocket interface that
// coder/websocket uses (constructor, binaryType, protocol, readyState,
// send, close, the four events, on* handlers too) and throws the same
// errors for bad arguments (coder/websocket relies on close throwing for
// codes other than 1000 and 3000–4999).
class RelayedWebSocket extends EventTarget {
  constructor(url, protocols) {
    super();
    const u = new URL(url, self.location.href); // throws on a bad URL, like WebSocket
    if (u.protocol === 'http:') u.protocol = 'ws:';
    if (u.protocol === 'https:') u.protocol = 'wss:';
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new DOMException(`The URL's scheme must be ws or wss: ${url}`, 'SyntaxError');
    this.url = u.href;
    this.id = ++nextSocketID;
    this.readyState = 0; // CONNECTING
    this.protocol = '';
    this.binaryType = 'blob';
    this.bufferedAmount = 0;
    this.extensions = '';
    this.onopen = this.onmessage = this.onerror = this.onclose = null;
    relayed.set(this.id, this);
    const list = protocols === undefined ? [] : [].concat(protocols);
    socketRelay().postMessage({ op: 'open', id: this.id, url: this.url, protocols: list });
  }

  send(data) {
    if (this.readyState === 0) throw new DOMException('Still in CONNECTING state.', 'InvalidStateError');
    if (this.readyState !== 1) return;
    if (typeof data === 'string') {
      relay.postMessage({ op: 'send', id: this.id, data });
      return;
    }
    const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
    const copy = bytes.slice(); // ours to transfer
    relay.postMessage({ op: 'send', id: this.id, data: copy.buffer }, [copy.buffer]);
  }

  close(code, reason) {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw new DOMException(`The close code must be either 1000, or between 3000 and 4999. ${code} is neither.`, 'InvalidAccessError');
    }
    if (reason !== undefined && new TextEncoder().encode(reason).length > 123) {
      throw new DOMException('The close reason must not be greater than 123 UTF-8 bytes.', 'SyntaxError');
    }
    if (this.readyState >= 2) return;
    this.readyState = 2; // CLOSING
    relay.postMessage({ op: 'close', id: this.id, code, reason });
  }

  fromRelay(m) {
    let ev;
    switch (m.type) {
      case 'open':
        this.readyState = 1;
        this.protocol = m.protocol || '';
        ev = new Event('open');
        break;
      case 'message': {
        let data = m.data;
        if (typeof data !== 'string' && this.binaryType === 'blob') data = new Blob([data]);
        ev = new MessageEvent('message', { data });
        break;
      }
      case 'error':
        ev = new Event('error');
        break;
      case 'close':
        this.readyState = 3;
        relayed.delete(this.id);
        ev = new CloseEvent('close', { code: m.code, reason: m.reason, wasClean: m.wasClean });
        break;
      default:
        return;
    }
    const handler = this[`on${ev.type}`];
    if (typeof handler === 'function') handler.call(this, ev);
    this.dispatchEvent(ev);
  }
}
RelayedWebSocket.CONNECTING = 0;
RelayedWebSocket.OPEN = 1;
RelayedWebSocket.CLOSING = 2;
RelayedWebSocket.CLOSED = 3;

// ---- the volunteer (this script in the page's worker)

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

function runVolunteer() {
  // Nested workers exist in current Chromium, Firefox and Safari; without
  // them the Go program uses this thread's own WebSocket.
  if (typeof Worker === 'function') self.WebSocket = RelayedWebSocket;
  self.onmessage = onPageMessage;
}

function onPageMessage(e) {
  const m = e.data || {};
  if (m.type === 'init') {
    load(m.wasmExec, m.wasm);
  } else if (api && pending.length === 0) {
    dispatch(m);
  } else {
    pending.push(m);
  }
}

if (SOCKET_RELAY) runSocketRelay(); else runVolunteer();
