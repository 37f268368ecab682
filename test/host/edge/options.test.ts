// The edge boards' command line (firmware/edge/options.ts): what a good command line and config file
// give, and that each mistake is refused with a message naming the flag and what to give instead.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EdgeArgError, edgeArgsOrExit, parseEdgeArgs, usage } from '../../../host/edge/options.ts';

const ok = (args: string[], runtime: 'deno' | 'node' = 'deno', readFile?: (p: string) => string) => parseEdgeArgs(args, runtime, readFile).options!;
const err = (args: string[], runtime: 'deno' | 'node' = 'deno', readFile?: (p: string) => string): string => {
  try {
    parseEdgeArgs(args, runtime, readFile);
  } catch (e) {
    assert.instance(e, EdgeArgError);
    return (e as Error).message;
  }
  throw new Error(`accepted ${args.join(' ')}`);
};

test('a full command line', () => {
  const o = ok(['--addr', '7', '--port=47001', '--peer', '127.0.0.1:47002,10.0.0.2:47003', '--peer', 'gw.local:5', '--conversation', '7, 2,3',
    '--messages', '5', '--every', '50', '--call', '2:1:{"a":[1,"x"]}', '--call', '0x10:2', '--drop', '10', '--seed', '0xffffffff', '--trace']);
  assert.equal(o, {
    addr: 7, port: 47001, bind: '127.0.0.1',
    peers: [{ address: '127.0.0.1', port: 47002 }, { address: '10.0.0.2', port: 47003 }, { address: 'gw.local', port: 5 }],
    group: null, conversation: [7, 2, 3], messages: 5, everyMs: 50,
    calls: [{ dst: 2, op: 1, args: { a: [1, 'x'] } }, { dst: 16, op: 2, args: null }], dropPct: 10, seed: 0xffffffff, trace: true,
  });
  const d = ok(['--addr', '1', '--peer', '127.0.0.1:2']);
  assert.equal([d.port, d.bind, d.conversation, d.messages, d.everyMs, d.calls, d.dropPct, d.seed, d.trace], [0, '127.0.0.1', null, 10, 200, [], 0, null, false]);
  assert.ok(parseEdgeArgs(['--addr', 'x', '--help'], 'node').help, '--help wins over any other flag');
});

test('each mistake names the flag and what to give', () => {
  assert.match(err(['--peer', '127.0.0.1:2']), /--addr is missing/);
  assert.match(err(['--addr', '0', '--peer', '127.0.0.1:2']), /--addr "0": a station address must be a whole number 1\.\.65279/);
  assert.match(err(['--addr', '65280', '--peer', '127.0.0.1:2']), /--addr "65280"/);
  assert.match(err(['--addr', '7', '--port', '70000', '--peer', '127.0.0.1:2']), /--port "70000": a UDP port must be a whole number 0\.\.65535/);
  assert.match(err(['--addr', '7', '--port', '-1', '--peer', '127.0.0.1:2']), /--port needs a value|--port "-1"/);
  assert.match(err(['--addr', '7', '--port', '12ab', '--peer', '127.0.0.1:2']), /--port "12ab"/);
  assert.match(err(['--addr', '7', '--port']), /--port needs a value/);
  assert.match(err(['--addr', '7']), /no --peer: give where frames go/);
  assert.match(err(['--addr', '7'], 'node'), /no --peer or --group/);
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1']), /--peer "127\.0\.0\.1": give HOST:PORT/);
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1:0']), /--peer "0": the port must be a whole number 1\.\.65535/);
  assert.match(err(['--addr', '7', '--peer', '300.0.0.1:5']), /--peer "300\.0\.0\.1": not an IPv4 address or host name/);
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1:5', '--bind', 'eth0']), /--bind "eth0": give a local IPv4 address/);
  assert.match(err(['--addr', '7', '--group', '239.1.2.3', '--port', '5000']), /--group: the deno-edge board sends to unicast peers only/);
  assert.match(err(['--addr', '7', '--group', '10.1.2.3', '--port', '5000'], 'node'), /--group "10\.1\.2\.3": give an IPv4 multicast address/);
  assert.match(err(['--addr', '7', '--group', '239.1.2.3'], 'node'), /--group needs --port/);
  assert.equal(ok(['--addr', '7', '--group', '239.1.2.3', '--port', '5000'], 'node').group, '239.1.2.3');
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1:5', '--conversation', '2,3']), /this node \(--addr 7\) must be one of the participants/);
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1:5', '--conversation', '7']), /give 2\.\.8 participants \(got 1\)/);
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1:5', '--conversation', '7,2,7']), /listed twice/);
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1:5', '--conversation', '1,2,3,4,5,6,7,8,9']), /got 9/);
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1:5', '--call', '2']), /--call "2": give DST:OP/);
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1:5', '--call', '2:1:{oops']), /not JSON/);
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1:5', '--call', '7:300']), /--call "7:300": operation "300": the operation must be a whole number 0\.\.255/);
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1:5', '--call', '0:1']), /--call "0:1": destination "0": a station address/);
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1:5', '--drop', '95']), /--drop "95": the percent must be a whole number 0\.\.90/);
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1:5', '--every', '0']), /--every "0"/);
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1:5', '--addr', '8']), /--addr is given 2 times/);
  assert.match(err(['--addr', '7', '--peer', '127.0.0.1:5', '--verbose']), /unknown option --verbose/);
  assert.match(err(['7']), /unexpected argument "7": options start with --/);
  assert.match(err(['--addr', '7', '--trace=yes', '--peer', '127.0.0.1:5']), /--trace takes no value/);
});

test('--config: a JSON file, overridden by flags; its mistakes name the file', () => {
  const files: Record<string, string> = {
    'a.json': JSON.stringify({ addr: 7, port: 47001, peers: ['127.0.0.1:47002'], conversation: [7, 2], calls: [{ dst: 2, op: 4 }, '2:1:"x"'], trace: true }),
    'bad.json': '{ addr: 7 }',
    'list.json': '[1]',
    'key.json': '{"adress": 7}',
    'port.json': '{"addr": 7, "port": "http", "peers": ["127.0.0.1:5"]}',
  };
  const read = (p: string): string => {
    if (p === 'secret.json') throw Object.assign(new Error('Requires read access to "secret.json", run again with the --allow-read flag'), { name: 'NotCapable' });
    if (!(p in files)) throw new Error(`ENOENT: no such file ${p}`);
    return files[p];
  };
  const o = ok(['--config', 'a.json', '--port', '47005'], 'deno', read);
  assert.equal([o.addr, o.port, o.peers, o.conversation, o.calls, o.trace], [7, 47005, [{ address: '127.0.0.1', port: 47002 }], [7, 2], [{ dst: 2, op: 4, args: null }, { dst: 2, op: 1, args: 'x' }], true]);
  assert.equal(ok(['--config', 'a.json', '--peer', '10.0.0.1:9'], 'deno', read).peers, [{ address: '10.0.0.1', port: 9 }], 'a flag replaces the file\'s list');
  // Deno's hint only when Deno refused the read, not for a file that is not there.
  assert.match(err(['--config', 'none.json'], 'deno', read), /--config none\.json: cannot read it \(ENOENT[^)]*\)$/m);
  assert.match(err(['--config', 'secret.json'], 'deno', read), /--config secret\.json: cannot read it \(.*\); Deno needs --allow-read/);
  assert.match(err(['--config', 'bad.json'], 'node', read), /--config bad\.json: not JSON/);
  assert.match(err(['--config', 'list.json'], 'node', read), /give a JSON object/);
  assert.match(err(['--config', 'key.json'], 'node', read), /unknown key "adress"/);
  assert.match(err(['--config', 'port.json'], 'node', read), /--port "http"/);
});

test('edgeArgsOrExit: usage on --help (exit 0), the error and a pointer to --help on a mistake (exit 2)', () => {
  const run = (args: string[]) => {
    const r = { out: '', err: '', code: -1 };
    const o = edgeArgsOrExit('deno-edge', args, 'deno', { out: (l) => { r.out += l; }, err: (t) => { r.err += t; }, exit: (c) => { r.code = c; } });
    return { ...r, o };
  };
  const h = run(['--help']);
  assert.equal([h.code, h.o, h.err], [0, null, '']);
  assert.is(h.out, usage('deno'));
  assert.match(h.out, /deno run --unstable-net --allow-net --allow-read dist\/deno-edge\.js --addr N/);
  assert.not.match(h.out, /--group/, 'Deno\'s usage does not offer multicast');
  assert.match(usage('node'), /--group IP/);
  const e = run(['--addr', '7', '--port', 'x']);
  assert.equal([e.code, e.o, e.out], [2, null, '']);
  assert.match(e.err, /^deno-edge: --port "x": a UDP port must be a whole number 0\.\.65535\n\(run with --help for the options\)$/);
  const g = run(['--addr', '7', '--peer', '127.0.0.1:9']);
  assert.is(g.code, -1);
  assert.is(g.o!.addr, 7);
});

test.run();
