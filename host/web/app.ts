// The page's script (host/web/index.html): plain DOM, no framework. Connects through one of the two
// transports (transport.ts: a bridge's WebSocket; serial.ts: a gateway on Web Serial), lists the
// devices, calls an operation with JSON arguments and shows the result, and shows the traffic live:
// the newest TRAFFIC_MAX lines, and counts per device. Arguments are JSON, with {"hex": "..."} for a
// byte string (as on the bridge's fronts). Elements carry labels, so the tests and assistive
// technology find them by name.

import { wsTransport } from './transport.ts';
import type { Device, Proto, Traffic, Transport } from './transport.ts';
import { serialTransport } from './serial.ts';
import { jsonText } from './decode.ts';

/** Lines kept in the live view. */
const TRAFFIC_MAX = 200;
/** Devices counted in the live view. */
const COUNTS_MAX = 256;

const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
};

const status = $<HTMLParagraphElement>('status');
const wsUrl = $<HTMLInputElement>('ws-url');
const token = $<HTMLInputElement>('token');
const baud = $<HTMLInputElement>('baud');
const connectWs = $<HTMLButtonElement>('connect-ws');
const connectSerial = $<HTMLButtonElement>('connect-serial');
const disconnect = $<HTMLButtonElement>('disconnect');
const refresh = $<HTMLButtonElement>('refresh');
const devicesBody = $<HTMLTableElement>('devices').tBodies[0];
const form = $<HTMLFormElement>('call');
const callTo = $<HTMLInputElement>('call-to');
const callOp = $<HTMLInputElement>('call-op');
const callArgs = $<HTMLTextAreaElement>('call-args');
const callProto = $<HTMLSelectElement>('call-proto');
const callGo = $<HTMLButtonElement>('call-go');
const result = $<HTMLPreElement>('result');
const countsBody = $<HTMLTableElement>('counts').tBodies[0];
const trafficList = $<HTMLOListElement>('traffic');

let transport: Transport | null = null;
const counts = new Map<number, { rx: number; tx: number; events: number; row: HTMLTableRowElement }>();

if (location.protocol === 'http:' || location.protocol === 'https:') {
  wsUrl.value = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
}
if (!('serial' in navigator)) {
  connectSerial.disabled = true;
  connectSerial.title = 'this browser has no Web Serial (navigator.serial): use Chromium or a bridge';
}

function say(text: string): void {
  status.textContent = text;
}

function cell(row: HTMLTableRowElement, text: string): void {
  row.insertCell().textContent = text;
}

function showDevices(list: Device[]): void {
  devicesBody.replaceChildren();
  for (const d of list) {
    const row = devicesBody.insertRow();
    row.dataset.addr = String(d.addr);
    const name = row.insertCell();
    const pick = document.createElement('button');
    pick.type = 'button';
    pick.textContent = d.name;
    pick.title = `call ${d.name}`;
    pick.onclick = () => {
      callTo.value = d.name;
      if (d.ops.length > 0) callOp.value = String(d.ops[0]);
      callTo.focus();
    };
    name.append(pick);
    cell(row, String(d.addr));
    cell(row, d.type);
    cell(row, d.ops.length > 0 ? d.ops.join(', ') : 'unknown');
  }
}

async function loadDevices(): Promise<void> {
  const t = transport;
  if (!t) return;
  try {
    showDevices(await t.devices());
  } catch (e) {
    say(`device list failed: ${(e as Error).message}`);
  }
}

function countOf(peer: number): { rx: number; tx: number; events: number; row: HTMLTableRowElement } | null {
  let c = counts.get(peer);
  if (c) return c;
  if (counts.size >= COUNTS_MAX) return null;
  const rows = [...countsBody.rows];
  const row = document.createElement('tr');
  row.dataset.addr = String(peer);
  for (let i = 0; i < 4; i++) row.insertCell();
  row.cells[0].textContent = String(peer);
  const after = rows.find((r) => Number(r.dataset.addr) > peer);
  countsBody.insertBefore(row, after ?? null);
  counts.set(peer, c = { rx: 0, tx: 0, events: 0, row });
  return c;
}

function traffic(t: Traffic): void {
  if (t.peer > 0 && (t.kind === 'rx' || t.kind === 'tx' || t.kind === 'event' || t.kind === 'count')) {
    const c = countOf(t.peer);
    if (c) {
      if (t.count) {
        c.rx = t.count.rx;
        c.tx = t.count.tx;
      } else if (t.kind === 'rx' || t.kind === 'tx') c[t.kind]++;
      if (t.kind === 'event') c.events++;
      c.row.cells[1].textContent = String(c.rx);
      c.row.cells[2].textContent = String(c.tx);
      c.row.cells[3].textContent = String(c.events);
    }
  }
  if (t.kind === 'count') return;
  const li = document.createElement('li');
  li.className = t.kind;
  li.textContent = `${new Date().toISOString().slice(11, 23)} ${t.text}`;
  const atEnd = trafficList.scrollTop + trafficList.clientHeight >= trafficList.scrollHeight - 4;
  trafficList.append(li);
  while (trafficList.childElementCount > TRAFFIC_MAX) trafficList.firstElementChild!.remove();
  if (atEnd) trafficList.scrollTop = trafficList.scrollHeight;
}

function connected(t: Transport): void {
  transport = t;
  counts.clear();
  countsBody.replaceChildren();
  say(`connected to the ${t.where}`);
  t.onTraffic(traffic);
  t.onDevices(() => void loadDevices());
  t.onClose((why) => {
    if (transport !== t) return;
    transport = null;
    say(`disconnected: ${why}`);
    buttons();
  });
  buttons();
  void loadDevices();
}

function buttons(): void {
  const on = transport !== null;
  disconnect.disabled = !on;
  refresh.disabled = !on;
  callGo.disabled = !on;
  connectWs.disabled = on;
  connectSerial.disabled = on || !('serial' in navigator);
}

connectWs.onclick = async () => {
  say(`connecting to ${wsUrl.value} ...`);
  connectWs.disabled = true;
  try {
    connected(await wsTransport(wsUrl.value.trim(), token.value || undefined));
  } catch (e) {
    say((e as Error).message);
    buttons();
  }
};

connectSerial.onclick = async () => {
  const rate = Number(baud.value);
  if (!(Number.isInteger(rate) && rate > 0)) {
    say(`the baud rate is a positive integer, not "${baud.value}"`);
    return;
  }
  connectSerial.disabled = true;
  try {
    const port = await navigator.serial.requestPort();
    say(`waiting for the gateway's hello at ${rate} baud ...`);
    connected(await serialTransport(port, rate));
  } catch (e) {
    say((e as Error).message);
    buttons();
  }
};

disconnect.onclick = () => {
  const t = transport;
  transport = null;
  t?.close();
  say('not connected');
  buttons();
};

refresh.onclick = () => void loadDevices();

form.onsubmit = async (e) => {
  e.preventDefault();
  const t = transport;
  if (!t) return;
  let args: unknown;
  try {
    args = callArgs.value.trim() === '' ? undefined : fromJson(JSON.parse(callArgs.value));
  } catch (err) {
    showResult(`the arguments are not JSON: ${(err as Error).message}`, true);
    return;
  }
  const to = /^\d+$/.test(callTo.value.trim()) ? Number(callTo.value.trim()) : callTo.value.trim();
  const op = Number(callOp.value);
  showResult(`calling ${String(to)} op ${op} ...`, false);
  const t0 = performance.now();
  try {
    const r = await t.call(to, op, args, callProto.value as Proto);
    showResult(jsonText(r), false, `${(performance.now() - t0).toFixed(0)} ms`);
  } catch (err) {
    showResult((err as Error).message, true);
  }
};

function showResult(text: string, error: boolean, took?: string): void {
  result.textContent = text;
  result.classList.toggle('error', error);
  result.title = took ?? '';
}

/** JSON arguments with {"hex": "..."} turned into byte strings. */
function fromJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === 'hex' && typeof o.hex === 'string' && /^(?:[0-9a-fA-F]{2})*$/.test(o.hex)) {
      const b = new Uint8Array(o.hex.length / 2);
      for (let i = 0; i < b.length; i++) b[i] = parseInt(o.hex.slice(2 * i, 2 * i + 2), 16);
      return b;
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = fromJson(o[k]);
    return out;
  }
  return v;
}

buttons();
