// The SX127x LoRa driver (hal/espruino/sx127x.ts) against a register model of the chip written from its
// datasheet (sx127x-model.ts), through exactly the Espruino API the driver calls (SPI.send with an nss
// pin, digitalWrite and pinMode on the reset pin, setWatch on DIO0), on the simulator's virtual time:
// the reset pulse and the set-up's register writes in order, with addresses and values written out
// here from the datasheet; a wrong RegVersion refused with a message; frames of 1 to 64 bytes between
// two chips with one onSent each, taking their time on air, and packets that follow one another through
// the FIFO in RX continuous; RSSI by the datasheet's formula on the HF and LF ports; CAD as carrier
// sense (stale answers count as busy, a preamble is detected and the frame still received, a frame
// arriving is not interrupted by a CAD); bad CRC, a collision and a header without CRC dropped and
// counted; a TX timeout reported as TX_ERR with the chip back in RX; time on air against figures
// worked by hand from the formula (and one from a calculator built on Semtech's AN1200.13); the
// CSMA_LORA preset's airtime estimate bounding it; and the driver inside Espruino's JavaScript.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { checkEspruino } from '../../../host/build/espruino-check.ts';
import { loraCadUs, loraTimeOnAirUs, sx127x } from '../../../hal/espruino/sx127x.ts';
import type { LoraParams, Sx127xLink, Sx127xOptions } from '../../../hal/espruino/sx127x.ts';
import { CSMA_LORA } from '../../../firmware/mac/csma/config.ts';
import { air, R, Sx127xChip } from './sx127x-model.ts';
import type { Air } from './sx127x-model.ts';

interface Station { chip: Sx127xChip; link: Sx127xLink; calls: string[] }

function station(a: Air, name: string, o: Partial<Sx127xOptions> = {}, version = 0x12): Station {
  const chip = new Sx127xChip(a, name, version);
  const calls: string[] = [];
  const link = sx127x({
    spi: { send: (d, nss) => chip.spiSend(d, nss) },
    pins: {
      digitalWrite: (pin, v) => {
        calls.push(`digitalWrite(${String(pin)},${v})@${a.sched.now()}`);
        if (pin !== 'RST_' + name) chip.violations.push(`digitalWrite on ${String(pin)}`);
        chip.digitalWrite(v);
      },
      pinMode: (pin, mode) => {
        calls.push(`pinMode(${String(pin)},${mode})@${a.sched.now()}`);
        if (pin !== 'RST_' + name) chip.violations.push(`pinMode on ${String(pin)}`);
        chip.pinMode(mode);
      },
      setWatch: (fn, pin, opts) => {
        calls.push(`setWatch(${String(pin)},${opts.edge})`);
        if (pin !== 'DIO0_' + name || !opts.repeat || opts.edge !== 'rising') chip.violations.push(`setWatch ${String(pin)} ${JSON.stringify(opts)}`);
        chip.setWatch(fn);
        return 1;
      },
    },
    nss: 'NSS_' + name, reset: 'RST_' + name, dio0: 'DIO0_' + name, clock: a.sched, ...o,
  });
  return { chip, link, calls };
}

const UP = 6_000; // reset 200 µs + 5 ms: the driver is listening by then
const SF7: LoraParams = { sf: 7, bw: 125_000, cr: 1, preamble: 8, crc: true, implicit: false, ldro: false };

test('set-up: reset pulse, RegVersion, the datasheet\'s registers in order, then RX continuous', () => {
  const a = air(scheduler());
  const { chip, link, calls } = station(a, 'A');
  // Addresses and values from the datasheet's register map, written out here rather than taken from
  // the driver's table, so a wrong address in the driver fails this test.
  const want = [
    [0x01, 0x00], // RegOpMode: Sleep (FSK), HF
    [0x01, 0x80], // LongRangeMode, still Sleep
    [0x06, 0xd9, 0x06, 0x66], // RegFrf: 868.1 MHz · 2^19 / 32 MHz = 0xD90666
    [0x09, 0x8c], // RegPaConfig: PA_BOOST, 17 - (15 - 12) = 14 dBm
    [0x0c, 0x23], // RegLna: G1, LnaBoostHf
    [0x0e, 0x00], [0x0f, 0x00], // FIFO TX and RX base addresses
    [0x1d, 0x72], // RegModemConfig1: 125 kHz (0111), 4/5 (001), explicit header
    [0x1e, 0x74], // RegModemConfig2: SF7, RxPayloadCrcOn
    [0x20, 0x00], [0x21, 0x08], // preamble 8
    [0x26, 0x04], // RegModemConfig3: AgcAutoOn, no LDRO at SF7
    [0x39, 0x12], // RegSyncWord
    [0x01, 0x81], // Standby
    [0x12, 0xff], // clear every IRQ flag
    [0x40, 0x00], // DIO0 = RxDone
    [0x01, 0x85], // RX continuous
  ];
  assert.not.ok(link.ready());
  assert.not.ok(link.send(Uint8Array.of(1), 1), 'nothing before the chip is up');
  a.sched.runUntil(UP);
  assert.equal(calls, ['digitalWrite(RST_A,0)@0', 'setWatch(DIO0_A,rising)', 'pinMode(RST_A,input)@200']);
  assert.equal(link.setupWrites, want);
  assert.equal(chip.writes, want, 'what reached the chip');
  assert.ok(link.ready());
  assert.is(link.error(), '');
  assert.is(chip.regs[R.OP_MODE], 0x85);
  assert.is(chip.regs[R.MODEM_CONFIG2], 0x74);
  assert.equal(chip.violations, []);
  assert.equal(link.caps, { mtu: 64, bitrate: 5468, medium: 'radio', carrierSense: true, broadcast: true });

  // 433.175 MHz (LF port), SF12 (a 32.8 ms symbol: LDRO mandated), 4/8, 20 dBm is refused, 17 taken.
  const b = station(air(scheduler()), 'B', { frequencyHz: 433_175_000, sf: 12, codingRate: 4, txPowerDbm: 17, syncWord: 0x34 });
  b.chip.a.sched.runUntil(UP);
  assert.equal(b.link.setupWrites.slice(0, 4), [[0x01, 0x08], [0x01, 0x88], [0x06, 0x6c, 0x4b, 0x33], [0x09, 0x8f]]);
  assert.equal(b.link.setupWrites.find((w) => w[0] === 0x26), [0x26, 0x0c], 'LowDataRateOptimize');
  assert.equal(b.link.setupWrites.find((w) => w[0] === 0x1d), [0x1d, 0x78]);
  assert.equal(b.link.setupWrites.find((w) => w[0] === 0x1e), [0x1e, 0xc4]);
  assert.equal(b.link.setupWrites.find((w) => w[0] === 0x39), [0x39, 0x34]);
  assert.is(b.chip.regs[R.OP_MODE], 0x8d);
  assert.equal(b.chip.violations, []);
  for (const [bad, re] of [
    [{ sf: 6 }, /sf must be 7\.\.12/], [{ bandwidthHz: 100_000 }, /bandwidthHz must be one of/], [{ txPowerDbm: 20 }, /txPowerDbm/],
    [{ mtu: 256 }, /mtu must be 1\.\.255/], [{ frequencyHz: 2.4e9 }, /frequencyHz/], [{ codingRate: 5 }, /codingRate/],
  ] as const) assert.throws(() => station(air(scheduler()), 'C', bad), re);
});

test('a chip that does not answer 0x12 in RegVersion: nothing written, a message, every frame refused', () => {
  const a = air(scheduler());
  const { chip, link } = station(a, 'A', {}, 0x00);
  a.sched.runUntil(UP);
  assert.equal(chip.writes, []);
  assert.not.ok(link.ready());
  assert.match(link.error(), /RegVersion reads 0x0, an SX1276\/77\/78\/79 reads 0x12: check the SPI pins/);
  assert.not.ok(link.send(Uint8Array.of(1), 1));
});

test('frames of 1 to 64 bytes between two chips, one onSent each, after their time on air; 65 refused', () => {
  const a = air(scheduler());
  const A = station(a, 'A');
  const B = station(a, 'B');
  const got: { f: number[]; t: number; rssi: number }[] = [];
  B.link.onReceive((f, len, info) => got.push({ f: Array.from(f.subarray(0, len)), t: info.timeUs, rssi: info.rssi }));
  const sent: number[] = [];
  let inSend = false;
  A.link.onSent((st) => { assert.not.ok(inSend, 'onSent never from inside send'); sent.push(st); });
  a.sched.runUntil(UP);
  const frames = [[7], Array.from({ length: 64 }, (_, i) => 255 - i), [1, 2, 3, 0, 0, 9]];
  const at: number[] = [];
  let t = UP;
  for (const f of frames) {
    at.push(t);
    a.sched.at(t, () => { inSend = true; assert.ok(A.link.send(Uint8Array.from(f), f.length)); inSend = false; });
    t += 200_000;
  }
  a.sched.runUntil(t);
  assert.equal(got.map((g) => g.f), frames);
  assert.equal(sent, [0, 0, 0]);
  // Virtual time: each frame arrives once its whole packet is on the air (25.9 ms for 1 byte, 118 ms for 64).
  assert.equal(got.map((g, i) => g.t - at[i]), frames.map((f) => loraTimeOnAirUs(f.length, SF7)));
  assert.equal(frames.map((f) => loraTimeOnAirUs(f.length, SF7)), [25_856, 118_016, 36_096]);
  assert.equal(got.map((g) => g.rssi), [-80, -80, -80], 'RSSI = -157 + PacketRssi (HF port, SNR >= 0)');
  // RX continuous without a break: the packets followed one another through the FIFO.
  assert.is(B.chip.regs[R.FIFO_RX_CURRENT], 1 + 64, 'the third packet starts after the first two');
  assert.is(A.link.stats.sent, 3);
  assert.is(B.link.stats.received, 3);
  assert.not.ok(A.link.send(new Uint8Array(65), 65), 'over the mtu');
  assert.not.ok(A.link.send(new Uint8Array(1), 0), 'empty');
  assert.ok(A.link.send(Uint8Array.of(1), 1));
  assert.not.ok(A.link.send(Uint8Array.of(2), 1), 'one at a time');
  a.sched.runUntil(t + 100_000);
  assert.is(B.link.stats.received, 4);
  assert.is(A.chip.regs[R.OP_MODE], 0x85, 'back in RX continuous after TxDone');
  assert.equal(A.chip.violations, []);
  assert.equal(B.chip.violations, []);
});

test('RSSI: the LF port\'s -164, and PacketSnr / 4 added when the SNR is below 0', () => {
  const a = air(scheduler());
  const o = { frequencyHz: 433_175_000 };
  const A = station(a, 'A', o);
  const B = station(a, 'B', o);
  const rssi: number[] = [];
  B.link.onReceive((_f, _l, info) => rssi.push(info.rssi));
  a.sched.runUntil(UP);
  a.rssiDbm = -101;
  A.link.send(Uint8Array.of(1), 1);
  a.sched.runUntil(UP + 100_000);
  assert.is(B.chip.regs[R.PKT_RSSI], 63, '-164 + 63 = -101');
  a.rssiDbm = -126;
  a.snrDb = -7;
  A.link.send(Uint8Array.of(2), 1);
  a.sched.runUntil(UP + 200_000);
  assert.is(B.chip.regs[R.PKT_SNR], 0xe4, 'two\'s complement of -28 quarter dB');
  assert.is(B.chip.regs[R.PKT_RSSI], 45, '-164 + 45 - 28 / 4 = -126');
  assert.equal(rssi, [-101, -126]);
});

test('CAD as carrier sense: stale is busy, a clear CAD is clear, a preamble is detected and its frame still received', () => {
  const a = air(scheduler());
  const A = station(a, 'A');
  const B = station(a, 'B');
  let received = 0;
  B.link.onReceive(() => received++);
  a.sched.runUntil(UP);
  assert.ok(B.link.busy(), 'no CAD yet: not known to be clear');
  assert.is(B.chip.cadCount, 1, 'busy() started one');
  assert.is(B.chip.regs[R.OP_MODE], 0x87, 'CAD mode');
  assert.is(B.chip.regs[R.DIO_MAPPING1] >> 6, 2, 'DIO0 = CadDone');
  const cad = loraCadUs(7, 125_000);
  assert.is(cad, 2_304, '(2^7 + 32) / 125 kHz + one symbol');
  a.sched.runUntil(UP + cad);
  assert.is(B.chip.regs[R.OP_MODE], 0x85, 'back in RX after CadDone');
  assert.not.ok(B.link.busy(), 'a clear CAD, just done');
  a.sched.runUntil(UP + 5_000);
  assert.not.ok(B.link.busy(), 'the CAD started by the last call');
  assert.is(B.link.stats.cads, 3);
  // A transmits a long frame; B looks during its preamble.
  const t0 = UP + 10_000;
  a.sched.runUntil(t0);
  assert.ok(A.link.send(new Uint8Array(40).fill(3), 40));
  assert.ok(A.link.busy(), 'our own transmission');
  a.sched.runUntil(t0 + 1_000);
  B.link.busy(); // starts a CAD while the preamble is on the air
  a.sched.runUntil(t0 + 1_000 + cad);
  assert.is(B.link.stats.cadDetected, 1);
  assert.ok(B.link.busy(), 'the CAD saw the preamble');
  // B went back to RX at once and caught the preamble: RegModemStat answers now, without a CAD.
  const cads = B.chip.cadCount;
  a.sched.runUntil(t0 + 40_000);
  assert.ok(B.link.busy(), 'a frame arriving (RegModemStat)');
  assert.is(B.chip.cadCount, cads, 'no CAD thrown across a frame being received');
  a.sched.runUntil(t0 + 200_000);
  assert.is(received, 1, 'the frame whose preamble the CAD saw');
  assert.equal(A.chip.violations, []);
  assert.equal(B.chip.violations, []);
});

test('CAD sees only the preamble: a station that missed it reads clear mid-payload (the chip\'s limit)', () => {
  const a = air(scheduler());
  const A = station(a, 'A');
  const B = station(a, 'B');
  a.sched.runUntil(UP);
  a.sched.at(UP + 1_000, () => A.link.send(new Uint8Array(64), 64));
  // B is kept in CAD over A's preamble (13 ms)...
  for (let t = UP; t < UP + 20_000; t += 2_500) a.sched.at(t, () => B.link.busy());
  a.sched.runUntil(UP + 40_000);
  assert.ok(B.link.stats.cadDetected >= 1, 'the CADs during the preamble saw it');
  // ...and in this model a CAD started well after the preamble finds nothing.
  a.sched.runUntil(UP + 60_000);
  B.link.busy();
  a.sched.runUntil(UP + 60_000 + 2_304);
  const after = B.link.stats.cadDetected;
  a.sched.runUntil(UP + 65_000);
  B.link.busy();
  a.sched.runUntil(UP + 70_000);
  assert.is(B.link.stats.cadDetected, after);
});

test('bad CRC, a collision and a header without CRC: dropped and counted, nothing delivered', () => {
  const a = air(scheduler());
  const A = station(a, 'A');
  const B = station(a, 'B');
  const C = station(a, 'C');
  const got: number[][] = [];
  C.link.onReceive((f, len) => got.push(Array.from(f.subarray(0, len))));
  a.sched.runUntil(UP);
  C.chip.corruptNext = true;
  A.link.send(Uint8Array.of(1, 1), 2);
  a.sched.runUntil(UP + 100_000);
  assert.is(C.link.stats.crcErrors, 1);
  assert.equal(got, []);
  // A and B at once (neither senses the other): C gets a broken packet.
  A.link.send(Uint8Array.of(2), 1);
  B.link.send(Uint8Array.of(3), 1);
  a.sched.runUntil(UP + 200_000);
  assert.is(C.link.stats.crcErrors, 2);
  assert.equal(got, []);
  // A packet whose header says "no CRC" (a sender with RxPayloadCrcOn off), sent by hand through A's chip.
  const spi = (...b: number[]) => A.chip.spiSend(Uint8Array.from(b), 'NSS_A');
  spi(0x81, 0x81); // Standby
  spi(0x9e, 0x70); // ModemConfig2: SF7, CRC off
  spi(0x8d, 0x00); // FifoAddrPtr = FifoTxBaseAddr
  spi(0x80, 0x42); // one byte into the FIFO
  spi(0xa2, 0x01); // PayloadLength 1
  spi(0x81, 0x83); // TX
  a.sched.runUntil(UP + 300_000);
  assert.is(C.link.stats.noCrc, 1);
  assert.equal(got, []);
  // And a good one still goes through.
  B.link.send(Uint8Array.of(9), 1);
  a.sched.runUntil(UP + 400_000);
  assert.equal(got, [[9]]);
  assert.equal(C.chip.violations, []);
});

test('TX timeout: no TxDone within ToA + ToA/4 + 20 ms is TX_ERR, the chip back in RX and receiving', () => {
  const a = air(scheduler());
  const A = station(a, 'A');
  const B = station(a, 'B');
  const sent: { st: number; t: number }[] = [];
  A.link.onSent((st) => sent.push({ st, t: a.sched.now() }));
  let got = 0;
  A.link.onReceive(() => got++);
  a.sched.runUntil(UP);
  A.chip.txStuck = true;
  assert.ok(A.link.send(new Uint8Array(10), 10));
  const toa = loraTimeOnAirUs(10, SF7);
  a.sched.runUntil(UP + toa + 1_000);
  assert.equal(sent, [], 'not before the bound');
  a.sched.runUntil(UP + 200_000);
  assert.equal(sent, [{ st: 5, t: UP + toa + (toa >> 2) + 20_000 }], 'TX_ERR once, at the bound');
  assert.is(A.link.stats.txTimeouts, 1);
  assert.is(A.chip.regs[R.OP_MODE], 0x85, 'RX continuous again');
  assert.is(A.chip.regs[R.DIO_MAPPING1], 0x00, 'DIO0 = RxDone');
  A.chip.txStuck = false;
  B.link.send(Uint8Array.of(5), 1);
  a.sched.runUntil(UP + 300_000);
  assert.is(got, 1, 'and it receives');
  assert.ok(A.link.send(Uint8Array.of(6), 1), 'and sends');
  a.sched.runUntil(UP + 400_000);
  assert.equal(sent.map((s) => s.st), [5, 0]);
});

test('time on air: the datasheet\'s formula against figures worked by hand', () => {
  const p = (o: Partial<LoraParams>): LoraParams => ({ ...SF7, ...o });
  // SF7/125 kHz: Tsym 1.024 ms; 10 bytes: ceil((80 - 28 + 28 + 16) / 28) = 4 blocks of 5 -> 28 symbols + 12.25.
  assert.is(loraTimeOnAirUs(10, SF7), 41_216);
  // SF9/125, 13 bytes: Tsym 4.096 ms, ceil(112 / 36) = 4 -> 28 symbols; 40.25 x 4.096 = 164.864 ms, as the
  // AN1200.13-based calculator gives for these settings.
  assert.is(loraTimeOnAirUs(13, p({ sf: 9 })), 164_864);
  // SF12/125 with LDRO: Tsym 32.768 ms, ceil(76 / 40) = 2 -> 18 symbols; 30.25 x 32.768 = 991.232 ms.
  assert.is(loraTimeOnAirUs(10, p({ sf: 12, ldro: true })), 991_232);
  // SF7/500 kHz, 4/8, 64 bytes: Tsym 256 µs, ceil(528 / 28) = 19 blocks of 8 -> 160 symbols; 172.25 x 256.
  assert.is(loraTimeOnAirUs(64, p({ bw: 500_000, cr: 4 })), 44_096);
  // The max(..., 0): SF12, implicit header, no CRC, 1 byte: ceil(-32 / 40) = 0 -> 8 symbols; 20.25 x 32.768.
  assert.is(loraTimeOnAirUs(1, p({ sf: 12, ldro: true, crc: false, implicit: true })), 663_552);
  // The preamble: 16 programmed symbols instead of 8 add 8 symbols.
  assert.is(loraTimeOnAirUs(10, p({ preamble: 16 })) - loraTimeOnAirUs(10, SF7), 8 * 1024);
});

test('CSMA_LORA: the MAC\'s linear airtime estimate is never below the time on air (0..255 bytes)', () => {
  const br = 5468; // the link's caps.bitrate at SF7/125/4-5
  for (let len = 0; len <= 255; len++) {
    const est = Math.ceil(((CSMA_LORA.phyHeaderBits + 8 * len) * 1e6) / br);
    assert.ok(est >= loraTimeOnAirUs(len, SF7), `len ${len}: ${est} < ${loraTimeOnAirUs(len, SF7)}`);
  }
  assert.ok(CSMA_LORA.aSlotTime > loraCadUs(7, 125_000), 'a slot holds a CAD');
  assert.ok((8 + 4.25) * 1024 > 2 * CSMA_LORA.aSlotTime, 'a preamble outlasts two slots');
  assert.is(CSMA_LORA.DIFS, CSMA_LORA.aSIFSTime + 2 * CSMA_LORA.aSlotTime);
});

test('the driver stays inside the JavaScript Espruino runs (the bundle gate\'s check)', async () => {
  const here = import.meta.dirname;
  const out = await build({
    stdin: { contents: `import { sx127x } from ${JSON.stringify(resolve(here, '../../../hal/espruino/sx127x.ts'))};\nglobalThis.S = sx127x;`, loader: 'js', resolveDir: here },
    bundle: true, format: 'iife', target: 'es2017', write: false,
  });
  assert.equal(checkEspruino(out.outputFiles[0].text), []);
});

test.run();
