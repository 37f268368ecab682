// The part of Deno's runtime API hal/deno and the deno-edge board use (Deno.listenDatagram is
// unstable: run with --unstable-net), declared here so the project type-checks without Deno's own
// type package.
declare namespace Deno {
  interface NetAddr {
    transport: 'udp' | 'tcp';
    hostname: string;
    port: number;
  }
  interface DatagramConn {
    readonly addr: NetAddr;
    send(p: Uint8Array, addr: NetAddr): Promise<number>;
    receive(p?: Uint8Array): Promise<[Uint8Array, NetAddr]>;
    close(): void;
  }
  function listenDatagram(options: { port: number; hostname?: string; transport: 'udp' }): DatagramConn;
  const version: { deno: string };
  /** The command line after the script. */
  const args: string[];
  function exit(code?: number): never;
  /** Needs --allow-read. */
  function readTextFileSync(path: string): string;
}
