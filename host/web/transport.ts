// The page's two ways to the devices behind one interface (host/web/app.ts uses only this):
//   wsTransport: a running bridge over its WebSocket front (host/bridge/ws.ts), JSON messages with the
//     envelope's requests (host/bridge/envelope.ts); the directory is the bridge's, and the live view is
//     the bridge's "events" and "traffic" pushes. Works in every browser, and with the simulator.
//   serialTransport (serial.ts): a gateway board on the browser's Web Serial port, the page being the
//     node at the gateway's address through the MAC tunnel, as the bridge is.
// Calls resolve with the device's result, or reject with an Error whose message says what failed (the
// bridge's or the endpoint's error name and code).

/** A device as the directory lists it. */
export interface Device {
  name: string;
  addr: number;
  type: string;
  ops: number[];
}

/** One thing seen on the network, for the live view. */
export interface Traffic {
  /** rx / tx at the page's (or the bridge's) node; sent: an outcome; event: a device's event; other. */
  kind: string;
  /** The device concerned (0: none). */
  peer: number;
  text: string;
  /** The device's running counts, when the other end keeps them. */
  count?: { rx: number; tx: number };
}

export type Proto = 'R' | 'RR' | 'RRA';

export interface Transport {
  /** Where it is connected, for people. */
  readonly where: string;
  devices(): Promise<Device[]>;
  call(to: string | number, op: number, args: unknown, proto: Proto): Promise<unknown>;
  /** Live view; set once. */
  onTraffic(fn: (t: Traffic) => void): void;
  /** The device list may have changed (a device was heard or registered); set once. */
  onDevices(fn: () => void): void;
  /** The connection ended (closed by the other end or failed); set once. */
  onClose(fn: (why: string) => void): void;
  close(): void;
}

/** Longest a request to the bridge waits for its reply, ms (the bridge's own calls time out sooner). */
const REPLY_MS = 15_000;
/** Requests waiting for replies at most (a bound, as on every queue of the project). */
const PENDING_MAX = 64;

/** JSON for the bridge: byte strings as {"hex": ...}, as the bridge's fronts read them. */
function toWire(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x instanceof Uint8Array) {
      let s = '';
      for (let i = 0; i < x.length; i++) s += (x[i] < 16 ? '0' : '') + x[i].toString(16);
      return { hex: s };
    }
    return x;
  });
}

/** Connect to a bridge's WebSocket front at `url` (ws:// or wss://). */
export function wsTransport(url: string, token?: string): Promise<Transport> {
  const ws = new WebSocket(url);
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  let trafficFn: ((t: Traffic) => void) | null = null;
  let devicesFn: (() => void) | null = null;
  let closeFn: ((why: string) => void) | null = null;
  let closed = false;

  function request(m: Record<string, unknown>): Promise<unknown> {
    if (ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error('the bridge connection is closed: connect again'));
    if (pending.size >= PENDING_MAX) return Promise.reject(new Error(`${PENDING_MAX} requests are waiting for the bridge already; wait for their replies`));
    const id = nextId++;
    if (token) m.token = token;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`no reply from the bridge within ${REPLY_MS / 1000} s`));
      }, REPLY_MS);
      pending.set(id, { resolve, reject, timer });
      ws.send(toWire({ id, ...m }));
    });
  }

  function message(m: Record<string, unknown>): void {
    if (m.ev === 'traffic') {
      trafficFn?.({ kind: String(m.dir), peer: m.dir === 'rx' ? Number(m.src) : Number(m.dst), text: String(m.text), count: m.count as Traffic['count'] });
      return;
    }
    if (m.ev === 'event') {
      const from = Number(m.from);
      trafficFn?.({ kind: 'event', peer: from, text: `event from ${typeof m.name === 'string' ? m.name : from}: ${JSON.stringify(m.data)}` });
      return;
    }
    if (m.ev === 'group') {
      trafficFn?.({ kind: 'group', peer: Number(m.from), text: `group ${String(m.group)} from ${String(m.from)}: ${JSON.stringify(m.data)}` });
      return;
    }
    const p = typeof m.id === 'number' ? pending.get(m.id) : undefined;
    if (!p) return;
    pending.delete(m.id as number);
    clearTimeout(p.timer);
    if (m.err) {
      const e = m.err as { code: number; msg: string };
      p.reject(new Error(`${e.msg} (error ${e.code})`));
    } else p.resolve(m.ok);
  }

  function end(why: string): void {
    if (closed) return;
    closed = true;
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(why));
    }
    pending.clear();
    closeFn?.(why);
  }

  return new Promise((resolve, reject) => {
    let opened = false;
    ws.onmessage = (e) => {
      if (typeof e.data !== 'string') return;
      let m: unknown;
      try {
        m = JSON.parse(e.data);
      } catch {
        return;
      }
      if (m !== null && typeof m === 'object') message(m as Record<string, unknown>);
    };
    ws.onerror = () => {
      // A browser does not say why (a refused page, 403, looks like nothing listening): a page opened
      // from a file is refused by a bridge without a token (host/bridge/ws.ts), so say that too.
      const fromFile = (globalThis as { location?: { protocol?: string } }).location?.protocol === 'file:';
      if (!opened) reject(new Error(`could not connect to ${url}: is the bridge running (npm start, or picolink bridge with a web port), and is the address right?` +
        (fromFile ? ' Opened from a file, this page is let in only by a bridge started with --token (and the token given here).' : '')));
    };
    ws.onclose = (e) => {
      if (opened) end(`the bridge closed the connection${e.reason ? ` (${e.reason})` : ''}`);
    };
    ws.onopen = () => {
      opened = true;
      const t: Transport = {
        where: `bridge ${url}`,
        async devices() {
          const list = await request({ q: 'devices' });
          return Array.isArray(list) ? list as Device[] : [];
        },
        call: (to, op, args, proto) => request(args === undefined ? { to, op, proto } : { to, op, args, proto }),
        onTraffic(fn) { trafficFn = fn; },
        onDevices(fn) { devicesFn = fn; },
        onClose(fn) { closeFn = fn; },
        close() {
          ws.close();
          end('closed');
        },
      };
      // The live view: device events, and the bridge node's traffic when the bridge shows it.
      void request({ sub: 'events' }).catch(() => {});
      request({ sub: 'traffic' }).then((ok) => {
        const counts = (ok as { counts?: { addr: number; rx: number; tx: number }[] } | null)?.counts ?? [];
        for (const c of counts) trafficFn?.({ kind: 'count', peer: c.addr, text: '', count: { rx: c.rx, tx: c.tx } });
      }, () => {});
      // The directory changes as devices register: look again now and then.
      const poll = setInterval(() => {
        if (closed) clearInterval(poll);
        else devicesFn?.();
      }, 5000);
      resolve(t);
    };
  });
}
