// The bridge's device side through a gateway board on a serial port: the port is framed
// (hal/framing) and runs the host's end of the MAC tunnel (firmware/mac/tunnel.ts), so the bridge is
// the node at the gateway's address and reaches every device on the gateway's radio.
//
// openGateway() asks the gateway who it is (TUN_HELLO, again every `everyMs`) and resolves with the
// tunnel's MAC once it answers; when nothing answers within `timeoutMs` it fails with an error that
// says what to check (the bundle, the baud rate, the port). serialGateway() does the same on a serial
// port by path, with the line paced as a UART when it is a pseudo-terminal (`pace`).
// Host only.

import type { Link } from '../../hal/link.ts';
import type { Clock } from '../../hal/clock.ts';
import { framedLink } from '../../hal/framing/link.ts';
import type { FramedLink } from '../../hal/framing/link.ts';
import { openSerial } from '../../hal/node/serial.ts';
import { CAP_PROTO, pcap } from '../../hal/mw/pcap.ts';
import type { PcapWriter } from '../../hal/mw/pcap.ts';
import type { NodeSerial } from '../../hal/node/serial.ts';
import { tunnelMac, TUN_RX_HDR, TUN_VERSION } from '../../firmware/mac/tunnel.ts';
import type { TunnelMac } from '../../firmware/mac/tunnel.ts';

/** Largest frame the host takes from a gateway: every board's MAC payload plus the tunnel header fits. */
export const GATEWAY_LINE_MTU = 250;

export interface OpenGatewayOptions {
  /** Give up after this long without a hello, ms (default 3000). */
  timeoutMs?: number;
  /** Ask again this often, ms (default 250): the first question may be lost while the line syncs. */
  everyMs?: number;
  /** Frames waiting for the line (default 16). */
  depth?: number;
  /** Where the line is, for messages (a port path). */
  where?: string;
}

export interface GatewayInfo {
  addr: number;
  mtu: number;
  version: number;
}

/** The tunnel's MAC over `link`, once the gateway at the other end has said who it is. */
export function openGateway(link: Link, o: OpenGatewayOptions = {}): Promise<TunnelMac & { info: GatewayInfo }> {
  const mac = tunnelMac(link, o.depth ?? 16) as TunnelMac & { info: GatewayInfo };
  const info: GatewayInfo = { addr: 0, mtu: 0, version: 0 };
  mac.info = info;
  const where = o.where ? ` on ${o.where}` : '';
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      clearInterval(ask);
      clearTimeout(limit);
      if (err) reject(err);
      else resolve(mac);
    };
    mac.hello((addr, mtu, version) => {
      info.addr = addr;
      info.mtu = mtu;
      info.version = version;
      if (done) return;
      if (version !== TUN_VERSION) finish(new Error(`the gateway${where} speaks tunnel version ${version}, this host ${TUN_VERSION}: flash the gateway bundle of this picolink`));
      else if (mtu + TUN_RX_HDR > link.caps.mtu) finish(new Error(`the gateway${where} carries ${mtu}-byte payloads, more than this host's line takes (${link.caps.mtu - TUN_RX_HDR})`));
      else finish(null);
    });
    const ask = setInterval(() => mac.hello(), o.everyMs ?? 250);
    const limit = setTimeout(() => finish(new Error(
      `no picolink gateway answered${where} within ${o.timeoutMs ?? 3000} ms (${heard(mac.stats.received + mac.stats.malformed, mac.stats.malformed)}): check that the board runs the gateway bundle (picolink flash), that the baud rate matches, ` +
      'and that no other program holds the port')), o.timeoutMs ?? 3000);
  });
}

/** What came up the line while waiting for the gateway's hello, in words. */
function heard(frames: number, foreign: number): string {
  if (frames === 0) return 'no frame came up the line';
  return `${frames} frame${frames === 1 ? '' : 's'} came up the line, ${foreign === frames ? 'none' : foreign === 0 ? 'all' : `${frames - foreign}`} of them the tunnel's`;
}

export interface SerialGatewayOptions extends OpenGatewayOptions {
  baud?: number;
  clock: Clock;
  /** Pace the line as a UART (for pseudo-terminals; default false: a real UART paces itself). */
  pace?: boolean;
  /** Record every frame on the line, both ways, as tunnel messages (CAP_PROTO.TUNNEL, station 0: the host). */
  capture?: PcapWriter;
}

/** `link` with its frames recorded as tunnel messages when there is a writer. */
export function captured(link: Link, clock: Clock, writer?: PcapWriter): Link {
  return writer ? pcap(link, { writer, clock, station: 0, proto: CAP_PROTO.TUNNEL }) : link;
}

export interface SerialGateway {
  mac: TunnelMac & { info: GatewayInfo };
  link: FramedLink;
  serial: NodeSerial;
  close(): Promise<void>;
}

/** Open the gateway board on the serial port at `path`. */
export async function serialGateway(path: string, o: SerialGatewayOptions): Promise<SerialGateway> {
  const serial = await openSerial(path, { baud: o.baud ?? 115_200, pace: o.pace ?? false });
  try {
    const link = framedLink(serial, { mtu: GATEWAY_LINE_MTU, clock: o.clock });
    const mac = await openGateway(captured(link, o.clock, o.capture), { ...o, where: o.where ?? path });
    return { mac, link, serial, close: () => serial.close() };
  } catch (e) {
    await serial.close();
    throw e;
  }
}
