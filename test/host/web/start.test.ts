// npm start's page (host/start.ts with webPort): the address line is printed next to the bridge's, the
// page and its script are served there, and the bridge's WebSocket on the same port answers a call to
// a simulated sensor and pushes the bridge node's traffic. No browser needed (page.test.ts has those).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { startDemo } from '../../../host/start.ts';

test('npm start prints the page\'s address and serves the page and the WebSocket there', async () => {
  const lines: string[] = [];
  const go = startDemo({
    seed: 2, sensors: 3, wearables: 0, forUs: 60_000_000, speed: 4, json: false, bridgePort: 0, webPort: 0,
    out: (l) => lines.push(l), warn: (l) => lines.push(l),
  });
  const stop = go();
  let port = 0;
  const t0 = Date.now();
  while (port === 0 && Date.now() - t0 < 30_000) {
    const m = lines.join('\n').match(/^web page: http:\/\/127\.0\.0\.1:(\d+)\/ /m);
    if (m) port = Number(m[1]);
    await new Promise((r) => setTimeout(r, 10));
  }
  try {
    assert.ok(port > 0, `the page's address was printed: ${lines.join('\n')}`);
    const bridgeAt = lines.findIndex((l) => l.startsWith('bridge:  node'));
    const webAt = lines.findIndex((l) => l.startsWith('web page:'));
    assert.ok(bridgeAt >= 0 && webAt === bridgeAt + 3, 'the page line comes right after the bridge\'s three lines');
    const html = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    assert.match(html, /<script src="app\.js"><\/script>/);
    const js = await fetch(`http://127.0.0.1:${port}/app.js`);
    assert.is(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.ok((await js.text()).includes('navigator.serial'));
    assert.is((await fetch(`http://127.0.0.1:${port}/nothing`)).status, 404);

    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { origin: `http://127.0.0.1:${port}` });
    const got: Record<string, unknown>[] = [];
    ws.on('message', (d: Buffer) => got.push(JSON.parse(d.toString())));
    await new Promise<void>((r, j) => { ws.once('open', () => r()); ws.once('error', j); });
    ws.send('{"id":1,"sub":"traffic"}');
    ws.send('{"id":2,"to":"sensor-2","op":1}');
    const t1 = Date.now();
    while (!(got.some((m) => m.id === 2) && got.some((m) => m.ev === 'traffic' && m.dir === 'rx')) && Date.now() - t1 < 20_000) {
      await new Promise((r) => setTimeout(r, 10));
    }
    ws.close();
    const r = got.find((m) => m.id === 2) as { ok: { t: number } } | undefined;
    assert.ok(r && typeof r.ok.t === 'number', `a reading from sensor-2: ${JSON.stringify(got)}`);
    const rx = got.find((m) => m.ev === 'traffic' && m.dir === 'rx') as { src: number; text: string };
    assert.is(rx.src, 2);
    assert.match(rx.text, /^rr REPLY id \d+ RR \{"t":/);
  } finally {
    process.emit('SIGINT'); // what Ctrl-C does: the paced run stops and prints its summary
    await stop;
  }
});

test.run();
