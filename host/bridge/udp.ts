// The bridge's UDP front: each datagram is one request envelope (envelope.ts) for the core (core.ts),
// and each reply goes back to the datagram's sender as one datagram. A client is its address and port.
// UDP has no stream, so subscriptions are refused here (BR_E_NO_STREAM): use the TCP front.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { BridgeClient, BridgeCore } from './core.ts';

export interface BridgeUdp {
  bound(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}

export function bridgeUdp(core: BridgeCore, o: { port?: number; host?: string }): BridgeUdp {
  const sock: Socket = createSocket('udp4');
  let closed = false;
  // One client object per sender, kept only while the core keeps its table (a small cache here).
  const known = new Map<string, BridgeClient>();
  function clientOf(r: RemoteInfo): BridgeClient {
    const key = `udp ${r.address}:${r.port}`;
    let c = known.get(key);
    if (!c) {
      if (known.size >= 1024) known.delete(known.keys().next().value!);
      const { address, port } = r;
      c = { key, label: `${address}:${port}`, stream: false, send: (b) => { if (!closed) sock.send(b, port, address); } };
      known.set(key, c);
    }
    return c;
  }
  sock.on('message', (msg: Buffer, r: RemoteInfo) => {
    core.request(clientOf(r), new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
  });
  sock.on('error', (e) => core.log(`bridge udp: ${e.message}`));
  const ready = new Promise<{ address: string; port: number }>((res, rej) => {
    sock.once('error', rej);
    sock.bind(o.port ?? 0, o.host ?? '127.0.0.1', () => {
      sock.off('error', rej);
      const a = sock.address();
      res({ address: a.address, port: a.port });
    });
  });
  ready.catch(() => {});
  return {
    bound: () => ready,
    close(): Promise<void> {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((res) => sock.close(() => res()));
    },
  };
}
