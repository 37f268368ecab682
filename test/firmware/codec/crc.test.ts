import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crc16, crc16Update, crc32 } from '../../../firmware/codec/crc.ts';
import { crc32 as zlibCrc32 } from 'node:zlib';

const check = new TextEncoder().encode('123456789');

test('CRC-16/X-25 check value 0x906E', () => {
  assert.is(crc16(check, 0, 9), 0x906e);
  assert.is(crc16(new Uint8Array(0), 0, 0), 0x0000);
});

test('CRC-16 over a slice equals CRC-16 of the slice, and updates compose', () => {
  const buf = new Uint8Array([0xaa, ...check, 0xbb]);
  assert.is(crc16(buf, 1, 9), 0x906e);
  const part = crc16Update(crc16Update(0xffff, check, 0, 4), check, 4, 5);
  assert.is((part ^ 0xffff) & 0xffff, 0x906e);
});

test('CRC-32 check value 0xCBF43926 and agreement with zlib on random data', () => {
  assert.is(crc32(check, 0, 9), 0xcbf43926);
  let x = 1;
  for (let n = 0; n < 200; n += 7) {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    assert.is(crc32(b, 0, n), zlibCrc32(b) >>> 0);
  }
});

test('a single flipped bit always changes CRC-16', () => {
  const b = new Uint8Array(64).map((_, i) => i * 37);
  const good = crc16(b, 0, 64);
  for (let bit = 0; bit < 64 * 8; bit++) {
    b[bit >> 3] ^= 1 << (bit & 7);
    assert.is.not(crc16(b, 0, 64), good);
    b[bit >> 3] ^= 1 << (bit & 7);
  }
});

test.run();
