// The browser page (host/web/) in headless Chromium through playwright-core, built as `npm run
// build:web` builds it (minified):
//   1. against a bridge on a simulated gateway network, over the bridge's WebSocket (the page served by
//      the bridge's own HTTP server, as npm start serves it): the device list shows the simulated
//      sensors, a call's result appears, and the bridge node's traffic shows with per-device counts;
//   2. over Web Serial, with a fake navigator.serial injected before the page loads (addInitScript)
//      whose port's streams carry bytes to and from a simulated tunnel gateway in Node
//      (host/sim/tunnel-net.ts, on a simulated 115 200-baud wire paced to the wall clock): the page
//      runs the framing, the tunnel and request-reply itself; the devices heard show in the list, an
//      RR call and an at-most-once RRA call come back, and the live view decodes the line. A
//      screenshot is saved to a temporary directory and its path printed;
//   3. opened from a file: a bridge without a token refuses it and the page says why; with the token
//      given in the page, it connects.
// Chromium: $CHROMIUM, else /usr/bin/chromium or chromium / chromium-browser on PATH (Debian's package,
// which .ci/run installs); without one the tests skip with a message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildPage, pageHandler } from '../../../host/web/build.ts';
import type { PageFiles } from '../../../host/web/build.ts';
import { startSimGateway, simNames } from '../../../host/sim/sim-gateway.ts';
import { startBridge } from '../../../host/bridge/bridge.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { wire } from '../../../hal/sim/wire.ts';
import { tunnelNet } from '../../../host/sim/tunnel-net.ts';

function findChromium(): string | null {
  const env = process.env.CHROMIUM;
  if (env) return existsSync(env) ? env : null;
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const p = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
      if (p) return p;
    } catch { /* not on PATH */ }
  }
  return null;
}

const CHROMIUM = findChromium();
if (!CHROMIUM) console.log('  skip: no Chromium found (set CHROMIUM=/path/to/chromium, or install Debian\'s chromium package); the browser page tests did not run');

/** Long enough for a loaded machine; nothing here measures time. */
const WAIT_MS = 30_000;

let browser: Browser | null = null;
let files: PageFiles | null = null;

async function setup(): Promise<{ browser: Browser; files: PageFiles }> {
  files ??= await buildPage({ minify: true });
  browser ??= await chromium.launch({ executablePath: CHROMIUM!, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
  return { browser, files };
}

/** Wait for the connection status to contain `text`; on a timeout, say what it shows instead. */
async function waitStatus(page: Page, text: string): Promise<void> {
  try {
    await page.getByRole('status', { name: 'connection status' }).filter({ hasText: text }).waitFor({ timeout: WAIT_MS });
  } catch {
    throw new Error(`the page did not say "${text}" in ${WAIT_MS} ms; its status: ${await page.getByRole('status', { name: 'connection status' }).textContent()}`);
  }
}

/** The text of the devices table's name column, once it has every one of `names`. */
async function waitDevices(page: Page, names: string[]): Promise<string[]> {
  const table = page.getByRole('table', { name: 'devices' });
  for (const n of names) await table.getByRole('button', { name: n, exact: true }).waitFor({ timeout: WAIT_MS });
  return table.locator('tbody tr td:first-child').allTextContents();
}

/** Call through the page's form; the result's text once it is no longer "calling ...". */
async function callInPage(page: Page, to: string, op: number, proto: string, args = ''): Promise<string> {
  await page.getByLabel('device', { exact: true }).fill(to);
  await page.getByLabel('operation', { exact: true }).fill(String(op));
  await page.getByLabel('protocol').selectOption(proto);
  await page.getByLabel('arguments').fill(args);
  await page.getByRole('button', { name: 'Call', exact: true }).click();
  const result = page.getByLabel('result');
  await page.waitForFunction(() => {
    const t = document.getElementById('result')?.textContent ?? '';
    return t !== '' && !t.startsWith('calling ');
  }, undefined, { timeout: WAIT_MS });
  const took = await result.getAttribute('title');
  if (took) console.log(`  ${proto} call to ${to} op ${op} in the page: ${took}`);
  return (await result.textContent()) ?? '';
}

test('over the WebSocket: a bridge on simulated sensors lists them, answers a call, shows its traffic', async () => {
  if (!CHROMIUM) return;
  const { browser: b, files: f } = await setup();
  const g = await startSimGateway({ seed: 4, sensors: 2 });
  const bridge = await startBridge({
    mac: g.mac, clock: g.sched, rng: xoshiro(4), udpPort: 0, tcpPort: 0, names: simNames(g.net.sensorIds), web: { port: 0, http: pageHandler(f) },
  });
  const page = await b.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`http://127.0.0.1:${bridge.web!.port}/`);
    await page.getByRole('button', { name: 'Connect to bridge' }).click();
    await waitStatus(page, 'connected to the bridge');
    const names = await waitDevices(page, ['sensor-1', 'sensor-2']);
    assert.equal(names, ['sensor-1', 'sensor-2']);
    const r = JSON.parse(await callInPage(page, 'sensor-2', 1, 'RR')) as { t: number; h: number; mv: number };
    assert.ok(typeof r.t === 'number' && typeof r.h === 'number' && typeof r.mv === 'number', JSON.stringify(r));
    // The call went out through the bridge's node and came back: both show, counted for device 3 (sensor-2).
    const traffic = page.getByRole('list', { name: 'traffic' });
    await traffic.getByText(/rr REQUEST id \d+ op 1 RR/).first().waitFor({ timeout: WAIT_MS });
    await traffic.getByText(/rr REPLY id \d+/).first().waitFor({ timeout: WAIT_MS });
    const row = page.getByRole('table', { name: 'counts per device' }).locator(`tr[data-addr="${g.net.sensorIds[1]}"] td`);
    const cells = await row.allTextContents();
    assert.ok(Number(cells[1]) >= 1 && Number(cells[2]) >= 1, `counts for sensor-2: ${cells.join(' ')}`);
    // A device the bridge does not know: the bridge's error is shown as such.
    assert.match(await callInPage(page, 'nobody', 1, 'RR'), /no device named "nobody"/);
    assert.equal(errors, []);
  } finally {
    await page.close();
    await bridge.close();
    g.stop();
  }
});

test('opened from a file: refused by a bridge without a token, with a message that says so; let in with one', async () => {
  if (!CHROMIUM) return;
  const { browser: b, files: f } = await setup();
  const dir = mkdtempSync(join(tmpdir(), 'picolink-page-'));
  for (const [name, body] of f) writeFileSync(join(dir, name), body);
  const g = await startSimGateway({ seed: 5, sensors: 1 });
  const open = await startBridge({ mac: g.mac, clock: g.sched, rng: xoshiro(5), udpPort: 0, tcpPort: 0, names: simNames(g.net.sensorIds), web: { port: 0, http: pageHandler(f) } });
  const page = await b.newPage();
  try {
    await page.goto(`file://${join(dir, 'index.html')}`);
    await page.getByLabel('bridge address').fill(`ws://127.0.0.1:${open.web!.port}/`);
    await page.getByRole('button', { name: 'Connect to bridge' }).click();
    await waitStatus(page, 'Opened from a file, this page is let in only by a bridge started with --token');
  } finally {
    await open.close();
  }
  const guarded = await startBridge({ mac: g.mac, clock: g.sched, rng: xoshiro(6), udpPort: 0, tcpPort: 0, token: 's3cret', names: simNames(g.net.sensorIds), web: { port: 0, http: pageHandler(f) } });
  try {
    await page.getByLabel('bridge address').fill(`ws://127.0.0.1:${guarded.web!.port}/`);
    await page.getByLabel('token').fill('s3cret');
    await page.getByRole('button', { name: 'Connect to bridge' }).click();
    await waitStatus(page, 'connected to the bridge');
    assert.equal(await waitDevices(page, ['sensor-1']), ['sensor-1']);
  } finally {
    await page.close();
    await guarded.close();
    g.stop();
  }
});

/**
 * The script that replaces navigator.serial before the page's own runs. Plain text, not a function:
 * tsx compiles functions with name helpers (__name) that the page does not have.
 */
const FAKE_SERIAL = `(() => {
  let feed = null;
  window.__serialOpened = 0;
  window.__serialFeed = (bytes) => { if (feed) feed.enqueue(new Uint8Array(bytes)); };
  const port = {
    readable: new ReadableStream({ start(c) { feed = c; } }),
    writable: new WritableStream({ write: (chunk) => window.__serialWrite(Array.from(chunk)) }),
    open: async (o) => { window.__serialOpened = o.baudRate; },
    close: async () => {},
    getInfo: () => ({}),
    addEventListener: () => {},
  };
  Object.defineProperty(navigator, 'serial', {
    configurable: true,
    value: { requestPort: async () => port, getPorts: async () => [port], addEventListener: () => {}, removeEventListener: () => {} },
  });
})();`;

test('over a fake Web Serial port: a simulated tunnel gateway\'s devices, an RR and an RRA call, the line decoded', async () => {
  if (!CHROMIUM) return;
  const { browser: b, files: f } = await setup();
  // The simulated gateway network: its line's other end (b) is the page's port.
  const sched = scheduler();
  const line = wire(sched, { baud: 115_200, txBufBytes: 1024 });
  const net = tunnelNet({ seed: 5, serial: line.a, sched, sensors: 2, periodUs: 500_000 });
  const toPage: number[] = [];
  const fromPage: number[] = [];
  line.b.onData((bytes, len) => {
    for (let i = 0; i < len; i++) toPage.push(bytes[i]);
  });
  const server: Server = createServer(pageHandler(f));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const page = await b.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  let feeding = false;
  let stopped = false;
  await page.exposeBinding('__serialWrite', (_src, bytes: number[]) => {
    for (const x of bytes) fromPage.push(x);
  });
  await page.addInitScript(FAKE_SERIAL);
  const t0 = performance.now();
  const timer = setInterval(() => {
    if (fromPage.length > 0) {
      const n = line.b.write(Uint8Array.from(fromPage), fromPage.length);
      fromPage.splice(0, n);
    }
    sched.runUntil(Math.floor((performance.now() - t0) * 1000));
    if (!feeding && toPage.length > 0 && !stopped) {
      feeding = true;
      const chunk = toPage.splice(0, toPage.length);
      page.evaluate((bytes) => (window as unknown as { __serialFeed: (b: number[]) => void }).__serialFeed(bytes), chunk)
        .catch(() => {}).finally(() => { feeding = false; });
    }
  }, 2);
  try {
    const port = (server.address() as { port: number }).port;
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.getByLabel('baud rate').fill('115200');
    await page.getByRole('button', { name: 'Connect to gateway (Web Serial)' }).click();
    await waitStatus(page, 'connected to the gateway at address 1');
    assert.is(await page.evaluate(() => (window as unknown as { __serialOpened: number }).__serialOpened), 115_200);
    const names = await waitDevices(page, ['device-2', 'device-3']);
    assert.equal(names, ['device-2', 'device-3']);
    const types = await page.getByRole('table', { name: 'devices' }).locator('tbody tr td:nth-child(3)').allTextContents();
    assert.equal(types, ['telemetry', 'telemetry']);
    const r = JSON.parse(await callInPage(page, 'device-3', 1, 'RR')) as { t: number; h: number; mv: number };
    assert.ok(typeof r.t === 'number' && r.t >= 180 && r.t < 260 && typeof r.mv === 'number', JSON.stringify(r));
    const count = JSON.parse(await callInPage(page, 'device-2', 2, 'RRA'));
    assert.is(count, 1, 'the first at-most-once count of device 2');
    assert.is(net.sensors[0].counter(), 1, 'the counter ran once on the device');
    assert.match(await callInPage(page, 'device-2', 77, 'RR'), /unknown operation/);
    const traffic = page.getByRole('list', { name: 'traffic' });
    await traffic.getByText(/rx 2 -> 1 -?\d+ dBm: telemetry from 2 #\d+ \{"t":\d+/).first().waitFor({ timeout: WAIT_MS });
    await traffic.getByText(/tx -> 3: rr REQUEST id \d+ op 1 RR/).first().waitFor({ timeout: WAIT_MS });
    const cells = await page.getByRole('table', { name: 'counts per device' }).locator('tr[data-addr="3"] td').allTextContents();
    assert.ok(Number(cells[1]) >= 2 && Number(cells[2]) >= 1, `counts for device 3: ${cells.join(' ')}`);
    const dir = mkdtempSync(join(tmpdir(), 'picolink-web-'));
    const shot = join(dir, 'page-web-serial.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`  screenshot of the page on the fake Web Serial port: ${shot}`);
    assert.equal(errors, []);
  } finally {
    stopped = true;
    clearInterval(timer);
    await page.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test.after(async () => {
  await browser?.close();
});

test.run();
