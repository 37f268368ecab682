// The serial ports of this machine, with what USB says about each: serialport's list (udev on Linux,
// IOKit on macOS, SetupAPI on Windows), and on Linux without udev (containers, minimal systems, where
// serialport's list fails because udevadm is missing) the same facts read from sysfs: every
// /sys/class/tty/<name> whose device is a USB serial adapter or CDC port (ttyUSB, ttyACM) or a
// board's UART (ttyAMA, ttyS with a real device behind it), with idVendor, idProduct, manufacturer and
// serial from the USB device above it. Pseudo-terminals are never listed. Host only.

import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SerialPort } from 'serialport';

export interface PortInfo {
  path: string;
  manufacturer?: string;
  serialNumber?: string;
  vendorId?: string;
  productId?: string;
}

const read = (f: string): string | undefined => {
  try {
    return readFileSync(f, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
};

/** Ports from sysfs under `root` (default /sys), as /dev/<name> paths. */
export function sysfsPorts(root = '/sys'): PortInfo[] {
  const cls = join(root, 'class/tty');
  let names: string[];
  try {
    names = readdirSync(cls);
  } catch {
    return [];
  }
  const out: PortInfo[] = [];
  for (const name of names.sort()) {
    if (!/^(ttyUSB|ttyACM|ttyAMA|ttyS|rfcomm)\d+$/.test(name)) continue;
    const dev = join(cls, name, 'device');
    if (!existsSync(dev)) continue;
    let real: string;
    try {
      real = realpathSync(dev);
    } catch {
      continue;
    }
    // The USB device is the nearest ancestor with an idVendor file.
    let usb: string | null = null;
    for (let d = real; d.startsWith(root) && d !== root; d = dirname(d)) {
      if (existsSync(join(d, 'idVendor'))) {
        usb = d;
        break;
      }
    }
    // A ttyS without USB behind it is usually one of the legacy ports every PC kernel creates; list it
    // only when the kernel found a UART there (a type other than 0, "unknown").
    if (!usb && name.startsWith('ttyS') && (read(join(cls, name, 'type')) ?? '0') === '0') continue;
    out.push({
      path: `/dev/${name}`,
      ...(usb ? {
        vendorId: read(join(usb, 'idVendor')), productId: read(join(usb, 'idProduct')),
        manufacturer: read(join(usb, 'manufacturer')), serialNumber: read(join(usb, 'serial')),
      } : {}),
    });
  }
  return out;
}

/** The serial ports: serialport's list, or sysfs on Linux when that list cannot run. */
export async function listPorts(): Promise<PortInfo[]> {
  try {
    return await SerialPort.list();
  } catch (e) {
    if (process.platform === 'linux') return sysfsPorts();
    throw e;
  }
}
