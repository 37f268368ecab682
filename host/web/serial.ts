// The page's Web Serial transport: a gateway board (or anything speaking its line, such as the test's
// simulated gateway behind a fake navigator.serial) on the browser's serial port. The code a board and
// the bridge run is reused as it is: the port's streams become a hal/serial.ts Serial (webSerial), the
// COBS + CRC framing (hal/framing/link.ts) makes it a frame link, the MAC tunnel's host end
// (firmware/mac/tunnel.ts tunnelMac) makes the page the node at the gateway's address, service ports
// (firmware/mac/ports.ts) and the firmware's request-reply endpoint (firmware/rr/rr.ts, with its CBOR
// codec, which writes the bytes the host's cbor-x writes) call the devices. This is what
// host/bridge/gateway.ts does on a Node serial port; its openGateway is not imported since that file
// brings Node's serial driver with it, so the hello exchange is done here the same way.
//
// The directory: devices that register (OP_DIR_REGISTER, firmware/services/directory.ts) are listed
// under their names, as the bridge lists them; every other device heard on the radio (a payload from
// it through the tunnel) is listed as "device-<addr>", typed "heard" ("telemetry" when it sends
// readings), with the operations unknown. OP_EVENT calls show in the live view.
//
// Bounds: the port's transmit side holds at most TX_BUF bytes (write() takes what fits, as a UART's
// buffer does, and the framing retries); the directory at most DEVICES_MAX devices.

import type { DataFn, Serial } from '../../hal/serial.ts';
import type { Link } from '../../hal/link.ts';
import { framedLink } from '../../hal/framing/link.ts';
import { realClock } from '../../hal/node/clock.ts';
import { xoshiro } from '../../hal/prng.ts';
import { tunnelMac, TUN_RX, TUN_RX_HDR, TUN_VERSION } from '../../firmware/mac/tunnel.ts';
import { macPorts, SVC_RR, SVC_TELEMETRY } from '../../firmware/mac/ports.ts';
import { rr, RR_DEFAULTS, RR_E_BAD_ARGS, RR_E_BUSY, RR_OK } from '../../firmware/rr/rr.ts';
import { PROTO_R, PROTO_RR, PROTO_RRA } from '../../firmware/rr/frame.ts';
import { OP_DIR_REGISTER, OP_EVENT, DIR_LEASE_MAX_S, DIR_NAME_MAX, DIR_OPS_MAX } from '../../firmware/services/directory.ts';
import { describeFrame, jsonText } from './decode.ts';
import type { Device, Proto, Traffic, Transport } from './transport.ts';

/** Largest frame taken from the gateway (host/bridge/gateway.ts GATEWAY_LINE_MTU). */
export const LINE_MTU = 250;
/** Bytes the page's side of the port holds for sending. */
export const TX_BUF = 1024;
export const DEVICES_MAX = 256;
/** Wait this long for the gateway's hello, ms; ask again every HELLO_EVERY_MS. */
export const HELLO_MS = 5000;
const HELLO_EVERY_MS = 250;

const RR_ERRORS: Record<number, string> = {
  1: 'unknown operation', 2: 'malformed arguments', 3: 'handler failure', 4: 'server busy', 5: 'timeout', 6: 'not sent',
  7: 'too many calls', 8: 'arguments too large', 9: 'malformed reply', 10: 'stale',
};
const PROTOS: Record<Proto, number> = { R: PROTO_R, RR: PROTO_RR, RRA: PROTO_RRA };

/** The Web Serial port's streams as a hal/serial.ts Serial. */
export function webSerial(port: SerialPort, baud: number, onEnd: (why: string) => void): Serial & { close(): Promise<void> } {
  if (!port.readable || !port.writable) throw new Error('the serial port is not open');
  const writer = port.writable.getWriter();
  const reader = port.readable.getReader();
  const buf = new Uint8Array(TX_BUF);
  let queued = 0;
  let busy = false;
  let onData: DataFn | null = null;
  let onDrain: (() => void) | null = null;
  let ended = false;

  function flush(): void {
    if (busy || queued === 0 || ended) return;
    busy = true;
    const chunk = buf.slice(0, queued);
    queued = 0;
    writer.write(chunk).then(() => {
      busy = false;
      if (queued > 0) flush();
      else if (onDrain) onDrain();
    }, (e: unknown) => end(`writing to the port failed: ${String(e)}`));
  }
  function end(why: string): void {
    if (ended) return;
    ended = true;
    onEnd(why);
  }
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const fn = onData as DataFn | null; // set from outside while the loop runs
        if (value && value.length > 0 && fn) fn(value, value.length);
      }
      end('the serial port closed');
    } catch (e) {
      end(`reading the port failed: ${String(e)}`);
    }
  })();

  return {
    baud,
    write(bytes: Uint8Array, len: number): number {
      const n = Math.min(len, TX_BUF - queued);
      buf.set(bytes.subarray(0, n), queued);
      queued += n;
      // Never inside write(): the contract says onDrain and onData are not called from it.
      if (n > 0) queueMicrotask(flush);
      return n;
    },
    writable: () => (ended ? 0 : TX_BUF - queued),
    onData(fn) { onData = fn; },
    onDrain(fn) { onDrain = fn; },
    async close(): Promise<void> {
      ended = true;
      try {
        await reader.cancel();
      } catch { /* already gone */ }
      reader.releaseLock();
      try {
        await writer.close();
      } catch { /* already gone */ }
      writer.releaseLock();
      try {
        await port.close();
      } catch { /* already closed */ }
    },
  };
}

/** Watch every frame on a link, both ways. */
function watched(link: Link, fn: (f: Uint8Array, len: number) => void): Link {
  return {
    caps: link.caps,
    send(frame, len) {
      const ok = link.send(frame, len);
      if (ok) fn(frame, len);
      return ok;
    },
    onReceive(r) {
      link.onReceive(r === null ? null : (f, len, info) => {
        fn(f, len);
        r(f, len, info);
      });
    },
    onSent: (s) => link.onSent(s),
    busy: () => link.busy(),
  };
}

/** Open a gateway on `port` (already chosen by the user) at `baud`, and wait for its hello. */
export async function serialTransport(port: SerialPort, baud: number): Promise<Transport> {
  await port.open({ baudRate: baud });
  const clock = realClock();
  let trafficFn: ((t: Traffic) => void) | null = null;
  let devicesFn: (() => void) | null = null;
  let closeFn: ((why: string) => void) | null = null;
  let closed = false;
  const end = (why: string): void => {
    if (closed) return;
    closed = true;
    clock.close();
    closeFn?.(why);
  };
  const serial = webSerial(port, baud, end);
  const seed = new Uint32Array(1);
  crypto.getRandomValues(seed);
  const rng = xoshiro(seed[0]);
  const counts = new Map<number, { rx: number; tx: number }>();
  const heard = new Map<number, Device>();
  const registered = new Map<number, Device>();
  let gatewayAddr = -1;

  const link = framedLink(serial, { mtu: LINE_MTU, clock });
  const mac = tunnelMac(watched(link, (f, len) => {
    const d = describeFrame(f, len);
    let count: Traffic['count'];
    if (d.kind === 'rx' || d.kind === 'tx') {
      let c = counts.get(d.peer);
      if (!c && counts.size < DEVICES_MAX) counts.set(d.peer, c = { rx: 0, tx: 0 });
      if (c) c[d.kind]++;
      count = c ? { rx: c.rx, tx: c.tx } : undefined;
    }
    if (d.kind === 'rx' && d.peer !== gatewayAddr && !registered.has(d.peer) && heard.size < DEVICES_MAX) {
      const telemetry = f[0] === TUN_RX && len > TUN_RX_HDR && f[TUN_RX_HDR] === SVC_TELEMETRY;
      const old = heard.get(d.peer);
      if (!old || (telemetry && old.type !== 'telemetry')) {
        heard.set(d.peer, { name: `device-${d.peer}`, addr: d.peer, type: telemetry ? 'telemetry' : 'heard', ops: [] });
        devicesFn?.();
      }
    }
    trafficFn?.({ kind: d.kind, peer: d.peer, text: d.text, count });
  }), 16);

  try {
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (e: Error | null): void => {
        if (done) return;
        done = true;
        clearInterval(ask);
        clearTimeout(limit);
        if (e) reject(e);
        else resolve();
      };
      mac.hello((addr, mtu, version) => {
        gatewayAddr = addr;
        if (version !== TUN_VERSION) finish(new Error(`the gateway speaks tunnel version ${version}, this page ${TUN_VERSION}: flash the gateway bundle of this picolink`));
        else if (mtu + TUN_RX_HDR > LINE_MTU) finish(new Error(`the gateway carries ${mtu}-byte payloads, more than this page takes`));
        else finish(null);
      });
      const ask = setInterval(() => mac.hello(), HELLO_EVERY_MS);
      const limit = setTimeout(() => finish(new Error(
        `no picolink gateway answered within ${HELLO_MS / 1000} s (${mac.stats.received + mac.stats.malformed} frames heard, ${link.stats.crcErrors} with a bad CRC): ` +
        'check that the board runs the gateway bundle (picolink flash), that the baud rate matches, and that no other program holds the port')), HELLO_MS);
    });
  } catch (e) {
    end('no gateway');
    await serial.close();
    throw e;
  }

  const ports = macPorts(mac);
  const node = rr({ mac: ports.port(SVC_RR), clock, rng, config: { ...RR_DEFAULTS, maxCalls: 8, clients: 32, historyEntries: 64 } });
  node.register(OP_DIR_REGISTER, (args, req, src) => {
    const a = args as { n?: unknown; t?: unknown; o?: unknown; l?: unknown } | null;
    const ok = a !== null && typeof a === 'object' && typeof a.n === 'string' && a.n.length >= 1 && a.n.length <= DIR_NAME_MAX &&
      typeof a.t === 'string' && a.t.length >= 1 && a.t.length <= DIR_NAME_MAX && Array.isArray(a.o) && a.o.length <= DIR_OPS_MAX &&
      a.o.every((x) => Number.isInteger(x) && x >= 0 && x <= 255) && Number.isInteger(a.l) && (a.l as number) >= 1 && (a.l as number) <= DIR_LEASE_MAX_S;
    if (!ok) {
      node.reply(req, RR_E_BAD_ARGS);
      return;
    }
    if (!registered.has(src) && registered.size >= DEVICES_MAX) {
      node.reply(req, RR_E_BUSY);
      return;
    }
    heard.delete(src);
    registered.set(src, { name: a.n as string, addr: src, type: a.t as string, ops: (a.o as number[]).slice() });
    node.reply(req, RR_OK, a.l);
    devicesFn?.();
  });
  node.register(OP_EVENT, (args, req, src) => {
    const name = registered.get(src)?.name ?? String(src);
    trafficFn?.({ kind: 'event', peer: src, text: `event from ${name}: ${jsonText(args)}` });
    node.reply(req, RR_OK, null);
  });

  const resolveTo = (to: string | number): number | null => {
    if (typeof to === 'number') return to;
    if (/^\d+$/.test(to)) return Number(to);
    for (const d of registered.values()) if (d.name === to) return d.addr;
    for (const d of heard.values()) if (d.name === to) return d.addr;
    return null;
  };

  return {
    where: `gateway at address ${gatewayAddr} on the serial port (${baud} baud)`,
    devices: () => Promise.resolve([...registered.values(), ...heard.values()].sort((x, y) => x.addr - y.addr)),
    call(to, op, args, proto) {
      const dst = resolveTo(to);
      if (dst === null || !(dst >= 1 && dst <= 0xfffe)) return Promise.reject(new Error(`no device named "${String(to)}" (the list shows the devices heard so far)`));
      if (!(Number.isInteger(op) && op >= 0 && op <= 255)) return Promise.reject(new Error('the operation is a number 0..255'));
      if (closed) return Promise.reject(new Error('the serial port is closed: connect again'));
      return new Promise((resolve, reject) => {
        const st = node.call(dst, op, args === undefined ? null : args, { proto: PROTOS[proto] }, (err, result) => {
          if (err === RR_OK) resolve(proto === 'R' ? null : result);
          else reject(new Error(`${RR_ERRORS[err] ?? 'error'} (error ${err})`));
        });
        if (st !== RR_OK) reject(new Error(`${RR_ERRORS[st] ?? 'error'} (error ${st})`));
      });
    },
    onTraffic(fn) { trafficFn = fn; },
    onDevices(fn) { devicesFn = fn; },
    onClose(fn) { closeFn = fn; },
    close() {
      end('closed');
      void serial.close();
    },
  };
}
