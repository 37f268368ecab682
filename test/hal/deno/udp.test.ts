// Request-reply between Node and a Deno edge node over loopback UDP: Deno runs the firmware endpoint
// on hal/deno/udp.ts (test/hal/deno/peer.ts); Node calls it through hal/node/udp.ts and the host
// endpoint, with datagrams dropped at random on the Node side, and checks the answers and that no
// at-most-once call ran twice. Skipped with a message when the `deno` package's binary is missing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { udpLink } from '../../../hal/node/udp.ts';
import { realClock } from '../../../hal/node/clock.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { faulty } from '../../../hal/mw/faulty.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import { PROTO_RRA } from '../../../firmware/rr/frame.ts';
import { hostRr } from '../../../host/rr/endpoint.ts';

const root = resolve(import.meta.dirname, '../../..');
// Deno's Linux x64 binary comes as an optional dependency (the registry mirror this project installs
// from carries no other platform's package, so the `deno` wrapper package cannot be locked); elsewhere
// the test skips, or uses the binary named by $DENO.
const denoBin = process.env.DENO ?? resolve(root, 'node_modules/@deno/linux-x64-glibc/deno');

test('a Deno edge node serves request-reply calls from Node over UDP, at most once under loss', async () => {
  if (!existsSync(denoBin)) {
    console.log(`  skip: no Deno binary at ${denoBin}; on Linux x64 npm ci installs it (@deno/linux-x64-glibc), elsewhere set DENO=/path/to/deno`);
    return;
  }
  const link = udpLink({ peers: [] });
  const local = await link.bound();
  const child = spawn(denoBin, ['run', '--quiet', '--unstable-net', '--allow-net', resolve(root, 'test/hal/deno/peer.ts'), String(local.port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
  });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  const clock = realClock();
  try {
    const line = await new Promise<string>((res, rej) => {
      createInterface({ input: child.stdout! }).once('line', res);
      child.once('exit', (c) => rej(new Error(`deno exited (${c}) before it was ready: ${stderr}`)));
    });
    link.setPeers([{ address: '127.0.0.1', port: (JSON.parse(line) as { port: number }).port }]);
    const rng = xoshiro(4);
    const lossy = faulty(link, { clock, rng, dropPct: 20, dupPct: 5 });
    const rpc = hostRr({ mac: rawMac(lossy, 1, 64), clock, rng, config: { timeoutUs: 30_000, retries: 10 } });
    assert.equal(await rpc.call(2, 1, { s: 'héllo', n: [1, 2.5, -3] }), { s: 'héllo', n: [1, 2.5, -3] });
    const results: number[] = [];
    for (let i = 0; i < 60; i++) results.push((await rpc.call(2, 3, null, i % 2 ? { proto: PROTO_RRA } : undefined)) as number);
    const info = (await rpc.call(2, 2)) as { runtime: string; count: number };
    assert.match(info.runtime, /^deno \d+\.\d+/);
    assert.equal(results, Array.from({ length: 60 }, (_, i) => i + 1), 'each call ran once, in order');
    assert.is(info.count, 60, 'the counter ran exactly once per call');
    assert.ok(rpc.stats.retries > 0, 'the loss made the client retransmit');
  } finally {
    clock.close();
    child.kill();
    await link.close();
  }
});

test.run();
