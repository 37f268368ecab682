// Builds the browser page (host/web/) and serves it.
//   buildPage(): rollup's API with esbuild (TypeScript, target es2020: browsers with Web Serial and
//     WebSocket all run it) into one iife script, app.js, next to index.html; minified by terser unless
//     `minify: false`. The board bundles' configuration (rollup.config.js) is not involved: the page is
//     not board code and does not go through the Espruino gate. Any rollup warning fails the build (an
//     import of a Node module would otherwise be left dangling in a browser script).
//   pageHandler(files): an HTTP handler serving those files from memory (npm start, the tests).
//   As a program: `node --import tsx host/web/build.ts [--out dist/web]` writes them (npm run build:web).
// The page is two files so that it opens from disk too (file://): without a bridge on its own host it
// asks for the bridge's address, and Web Serial works from a file in Chromium.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { rollup } from 'rollup';
import esbuild from 'rollup-plugin-esbuild';
import terser from '@rollup/plugin-terser';

const here = import.meta.dirname;

/** File name -> contents. */
export type PageFiles = Map<string, string>;

export async function buildPage(o: { minify?: boolean } = {}): Promise<PageFiles> {
  const bundle = await rollup({
    input: join(here, 'app.ts'),
    plugins: [esbuild({ target: 'es2020', sourceMap: false })],
    onwarn(w) {
      throw new Error(`web page build: ${w.message}`);
    },
  });
  try {
    const { output } = await bundle.generate({ format: 'iife', plugins: o.minify === false ? [] : [terser({ format: { comments: false } })] });
    const files: PageFiles = new Map();
    files.set('index.html', readFileSync(join(here, 'index.html'), 'utf8'));
    files.set('app.js', output[0].code);
    return files;
  } finally {
    await bundle.close();
  }
}

const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8' };

/** Serve `files`: "/" is index.html; anything else not in `files` is 404. GET and HEAD only. */
export function pageHandler(files: PageFiles): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const name = path === '/' ? 'index.html' : path.slice(1);
    const body = files.get(name);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' });
      res.end('only GET and HEAD\n');
      return;
    }
    if (body === undefined && name === 'favicon.ico') {
      res.writeHead(204); // no icon, and no 404 in the browser's console
      res.end();
      return;
    }
    if (body === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end(`no ${path} here: the page is at /\n`);
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream',
      'Cache-Control': 'no-store',
      // The page's own script, and WebSockets to any bridge the user names.
      'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:",
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist/web' }, 'no-minify': { type: 'boolean', default: false } } });
  const out = resolve(values.out);
  const files = await buildPage({ minify: !values['no-minify'] });
  mkdirSync(out, { recursive: true });
  for (const [name, body] of files) writeFileSync(join(out, name), body);
  console.log(`web page: ${[...files].map(([n, b]) => `${n} ${Buffer.byteLength(b)} bytes`).join(', ')} in ${values.out}`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(here, 'build.ts')) await main();
