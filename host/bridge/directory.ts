// The bridge's directory (the notes' name service): devices register a name, a type and the
// operations they serve (firmware/services/directory.ts, op OP_DIR_REGISTER), with a lease; the bridge
// resolves names to addresses (white pages) and answers queries by type and operation (yellow pages).
// Entries may also be given by configuration (static: no lease).
//
// Rules: a name belongs to one address while its lease runs; another device asking for it is refused
// (malformed arguments, with a message naming the holder). A device that registers again under a new
// name gives up its old one. The table holds at most `max` entries: when it is full, expired entries go
// first, and a registration that still finds no room is refused (server busy) rather than evicting a
// live device. Lookups skip expired entries; a sweep on each registration drops them.
import { RR_E_BAD_ARGS, RR_E_BUSY } from '../../firmware/rr/rr.ts';
import { DIR_LEASE_MAX_S, DIR_NAME_MAX, DIR_OPS_MAX } from '../../firmware/services/directory.ts';
import { RrError } from '../rr/endpoint.ts';

export interface DeviceInfo {
  name: string;
  addr: number;
  type: string;
  ops: number[];
  /** performance.now() ms when the lease ends; Infinity for configured entries. */
  expires: number;
}

export interface DirQuery {
  name?: string;
  type?: string;
  /** Devices serving this operation. */
  has?: number;
}

export interface Directory {
  /** A device's registration (OP_DIR_REGISTER's args); the lease granted in seconds, or throws RrError. */
  register(addr: number, args: unknown): number;
  /** A configured entry (no lease). */
  add(name: string, addr: number, type?: string, ops?: number[]): void;
  resolve(name: string): number | null;
  /** The live name of a device, or null. */
  nameOf(addr: number): string | null;
  /** Live entries matching every given field, in name order, at most `limit`. */
  query(q: DirQuery, limit?: number): DeviceInfo[];
  size(): number;
}

function isText(x: unknown, max: number): x is string {
  return typeof x === 'string' && x.length >= 1 && x.length <= max;
}

export function directory(opts: { max?: number; now?: () => number } = {}): Directory {
  const max = opts.max ?? 1024;
  const now = opts.now ?? (() => performance.now());
  const byName = new Map<string, DeviceInfo>();
  const byAddr = new Map<number, DeviceInfo>();

  function live(d: DeviceInfo | undefined, t: number): d is DeviceInfo {
    return d !== undefined && d.expires > t;
  }
  function remove(d: DeviceInfo): void {
    byName.delete(d.name);
    if (byAddr.get(d.addr) === d) byAddr.delete(d.addr);
  }
  function sweep(t: number): void {
    for (const d of byName.values()) if (d.expires <= t) remove(d);
  }
  function put(d: DeviceInfo, t: number): void {
    const old = byName.get(d.name);
    if (old && live(old, t) && old.addr !== d.addr) {
      throw new RrError(RR_E_BAD_ARGS, `the name "${d.name}" belongs to device ${old.addr}`);
    }
    if (old) remove(old);
    const mine = byAddr.get(d.addr);
    if (mine) remove(mine);
    if (byName.size >= max) sweep(t);
    if (byName.size >= max) throw new RrError(RR_E_BUSY, `the directory is full (${max} devices)`);
    byName.set(d.name, d);
    byAddr.set(d.addr, d);
  }

  return {
    register(addr: number, args: unknown): number {
      const a = args as Record<string, unknown> | null;
      if (a === null || typeof a !== 'object' || Array.isArray(a) || a instanceof Uint8Array) {
        throw new RrError(RR_E_BAD_ARGS, 'register: send a map {n, t, o, l}');
      }
      if (!isText(a.n, DIR_NAME_MAX)) throw new RrError(RR_E_BAD_ARGS, `register: "n" must be a name of 1..${DIR_NAME_MAX} characters`);
      if (!isText(a.t, DIR_NAME_MAX)) throw new RrError(RR_E_BAD_ARGS, `register: "t" must be a type of 1..${DIR_NAME_MAX} characters`);
      const ops = a.o;
      if (!Array.isArray(ops) || ops.length > DIR_OPS_MAX || !ops.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)) {
        throw new RrError(RR_E_BAD_ARGS, `register: "o" must be a list of at most ${DIR_OPS_MAX} operations 0..255`);
      }
      const l = a.l;
      if (!(Number.isInteger(l) && (l as number) >= 1 && (l as number) <= DIR_LEASE_MAX_S)) {
        throw new RrError(RR_E_BAD_ARGS, `register: "l" must be a lease of 1..${DIR_LEASE_MAX_S} seconds`);
      }
      const t = now();
      put({ name: a.n, addr, type: a.t, ops: (ops as number[]).slice(), expires: t + (l as number) * 1000 }, t);
      return l as number;
    },
    add(name: string, addr: number, type = 'device', ops: number[] = []): void {
      if (!isText(name, 64)) throw new Error(`directory: a name is 1..64 characters, not "${name}"`);
      put({ name, addr, type, ops: ops.slice(), expires: Infinity }, now());
    },
    resolve(name: string): number | null {
      const d = byName.get(name);
      return live(d, now()) ? d.addr : null;
    },
    nameOf(addr: number): string | null {
      const d = byAddr.get(addr);
      return live(d, now()) ? d.name : null;
    },
    query(q: DirQuery, limit = 100): DeviceInfo[] {
      const t = now();
      const out: DeviceInfo[] = [];
      for (const d of byName.values()) {
        if (!live(d, t)) continue;
        if (q.name !== undefined && d.name !== q.name) continue;
        if (q.type !== undefined && d.type !== q.type) continue;
        if (q.has !== undefined && !d.ops.includes(q.has)) continue;
        out.push(d);
      }
      out.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
      return out.slice(0, limit);
    },
    size: () => byName.size,
  };
}
