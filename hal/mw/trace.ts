// Tracing: a Link that wraps a Link and writes one line per event (send, refused send, sent, receive)
// with the clock's time, a name and the first bytes in hex. Lines go to a sink function, so a test
// can compare traces and the CLI can print them. Host-side tool; the simulator's medium has its own
// trace of what happens on the air.

import type { Link, TxStatus } from '../link.ts';
import type { Clock } from '../clock.ts';

const STATUS = ['ok', 'collision', 'noack', 'deferred', 'queuefull', 'err'];

export interface TraceOptions {
  clock: Clock;
  /** Prefix naming the station or link, e.g. "gw.radio". */
  name: string;
  sink: (line: string) => void;
  /** Bytes of each frame shown in hex. Default 16. */
  showBytes?: number;
}

export function hexBytes(b: Uint8Array, len: number, max: number): string {
  let s = '';
  const n = Math.min(len, max);
  for (let i = 0; i < n; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return len > max ? s + '..' : s;
}

export function trace(link: Link, o: TraceOptions): Link {
  const show = o.showBytes ?? 16;
  const line = (what: string): void => o.sink(`${String(o.clock.now()).padStart(10)} ${o.name} ${what}`);
  return {
    caps: link.caps,
    send(frame, len) {
      const ok = link.send(frame, len);
      line(`${ok ? 'send' : 'refused'} len=${len} ${hexBytes(frame, len, show)}`);
      return ok;
    },
    onReceive(fn) {
      link.onReceive(fn && ((frame, len, info) => {
        line(`recv len=${len} ${hexBytes(frame, len, show)}`);
        fn(frame, len, info);
      }));
    },
    onSent(fn) {
      link.onSent(fn && ((st: TxStatus) => {
        line(`sent ${STATUS[st] ?? st}`);
        fn(st);
      }));
    },
    busy: () => link.busy(),
    onCarrier: link.onCarrier ? (fn) => link.onCarrier!(fn) : undefined,
  };
}
