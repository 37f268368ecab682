// The Pico board's create() against fakes of the Espruino built-ins it touches: Serial1 is set up on
// B6/B7 at 115200 with the console forced to USB, and what it writes is valid framed telemetry that
// the host decodes. Real timers (the driver's clock reads getTime and setTimeout): about 1.3 s.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { create, board } from '../../boards/pico.ts';
import { frameDecoder } from '../../hal/framing/cobs.ts';
import { parseTelemetry } from '../../firmware/codec/telemetry.ts';
import { hostDecode } from '../../host/codec/cbor.ts';

test('pico: Serial1 on B6/B7, console on USB, framed telemetry readings', async () => {
  const calls: string[] = [];
  const written: number[] = [];
  const port = (name: string) => ({
    setConsole: (force: boolean) => calls.push(`${name}.setConsole(${force})`),
    setup: (baud: number, o: { rx?: unknown; tx?: unknown }) => calls.push(`${name}.setup(${baud},tx=${o.tx},rx=${o.rx})`),
    on: (ev: string) => calls.push(`${name}.on(${ev})`),
    write: (d: Uint8Array) => { for (const b of d) written.push(b); },
  });
  const g = globalThis as Record<string, unknown>;
  g.getTime = () => performance.now() / 1000;
  g.E = { hwRand: () => (Math.random() * 2 ** 32) | 0 };
  try {
    const app = create({
      getSerial: () => '33FFD9054D4E383423761743',
      E: { getTemperature: () => 24.37, getAnalogVRef: () => 3.301 },
      process: { memory: () => ({ free: 4321 }) },
      Serial1: port('Serial1'), USB: port('USB'), B6: 22, B7: 23,
    });
    await new Promise((r) => setTimeout(r, 1300));
    app.stop();
    assert.equal(calls.slice(0, 3), ['USB.setConsole(true)', 'Serial1.setup(115200,tx=22,rx=23)', 'Serial1.on(data)']);
    const frames: unknown[] = [];
    const ids: number[] = [];
    const dec = frameDecoder(board.mtu, (f, len) => {
      const h = { src: 0, seq: 0 };
      const body = parseTelemetry(f, len, h);
      assert.ok(body > 0);
      ids.push(h.src);
      frames.push(hostDecode(f.subarray(body, len)));
    });
    dec.push(Uint8Array.from(written), written.length);
    assert.ok(frames.length >= 1, `frames ${frames.length}`);
    assert.equal(frames[0], { t: 24.4, vref: 3301, free: 4321 });
    assert.ok(ids[0] > 0 && ids[0] < 0xfffe);
    assert.is(dec.stats.crcErrors, 0);
  } finally {
    delete g.getTime;
    delete g.E;
  }
});

test.run();
