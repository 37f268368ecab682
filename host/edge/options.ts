// The command line of an edge node (boards/deno-edge.ts under Deno, boards/node-host.ts under Node):
// one parser for both runtimes, so the same flags mean the same thing everywhere. Pure: it reads the
// argument list and, for --config, a text the caller's runtime reads (readFile), and returns the
// options or throws an EdgeArgError whose message names the flag, what was wrong and what to give.
// Lives in host/edge/ (no Node or Deno import, so both runtimes run it; not board code: it uses the
// full language, which Espruino does not run): shared by two boards, and every boards/*.ts file is a
// bundle of its own.
//
// Flags (a JSON config file with the same keys may stand in for any of them; flags win over it):
//   --addr N            station address on the device network, 1..65279 (0xFEFF), decimal or 0x hex
//   --port P            local UDP port, 0..65535 (0: any free port, printed when ready)
//   --bind IP           local address (default 127.0.0.1: loopback only; 0.0.0.0 for every interface)
//   --peer HOST:PORT    where every frame goes, repeatable or comma-separated (IPv4 or a host name)
//   --group IP          an IPv4 multicast group instead of peers (node-host only; its port is --port)
//   --conversation A,B  a Psync conversation's participants, the initiator first, this node listed
//   --messages N        data messages this node sends into the conversation (default 10, 0..1000)
//   --every MS          mean time between them, milliseconds (default 200, 1..60000)
//   --call D:OP[:JSON]  call operation OP on station D once at start (repeatable), printing the result
//   --drop PCT          drop this percent of received frames (0..90): for trying the node under loss
//   --seed N            seed of the random generator (default: from the runtime's crypto source)
//   --trace             print the conversation's send, deliver and commit events as JSON lines
//   --config FILE       read options from a JSON file
//   --help              the usage text

export interface EdgePeer {
  address: string;
  port: number;
}

export interface EdgeCall {
  dst: number;
  op: number;
  args: unknown;
}

export interface EdgeOptions {
  addr: number;
  port: number;
  bind: string;
  peers: EdgePeer[];
  group: string | null;
  conversation: number[] | null;
  messages: number;
  everyMs: number;
  calls: EdgeCall[];
  dropPct: number;
  seed: number | null;
  trace: boolean;
}

export interface EdgeParse {
  /** --help was given: print usage() and stop. */
  help: boolean;
  options: EdgeOptions | null;
}

export class EdgeArgError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EdgeArgError';
  }
}

/** Psync's limit on participants (firmware/psync/frame.ts PS_MAX_PARTICIPANTS). */
const MAX_PARTICIPANTS = 8;
const ADDR_MAX = 0xfeff;

export function usage(runtime: 'deno' | 'node'): string {
  const run = runtime === 'deno'
    ? 'deno run --unstable-net --allow-net --allow-read dist/deno-edge.js'
    : 'node dist/node-host.js';
  return `usage: ${run} --addr N [options]

A picolink edge node on UDP: the raw MAC, request-reply (echo 1, counter 2 at most once, digest 3,
info 4) and, with --conversation, a Psync conversation participant (ordered broadcast by waves).

  --addr N            station address, 1..65279 (required)
  --port P            local UDP port, 0..65535 (default 0: any free port, printed when ready)
  --bind IP           local address (default 127.0.0.1; 0.0.0.0 for every interface)
  --peer HOST:PORT    send every frame there; repeatable or comma-separated${runtime === 'node' ? `
  --group IP          an IPv4 multicast group instead of peers (every node binds the same --port)` : ''}
  --conversation A,B  the conversation's participants, initiator first, --addr among them
  --messages N        data messages to send into it (default 10)
  --every MS          mean interval between them, ms (default 200)
  --call D:OP[:JSON]  call operation OP on station D at start, print the result; repeatable
  --drop PCT          drop this percent of received frames, 0..90 (testing under loss)
  --seed N            random seed (default: from the runtime's crypto source)
  --trace             print conversation events (send, deliver, commit) as JSON lines
  --config FILE       options from a JSON file (keys: addr, port, bind, peers, group, conversation,
                      messages, every, calls, drop, seed, trace); flags override it
  --help              this text

Prints one JSON line {"ev":"ready",...} once listening; exit status 2 for a usage error.
Example: ${run} --addr 7 --port 47001 --peer 127.0.0.1:47002 --conversation 7,2 --trace`;
}

function intIn(flag: string, v: unknown, lo: number, hi: number, what: string): number {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
  const n = /^0x[0-9a-f]+$/i.test(s) ? parseInt(s, 16) : /^\d+$/.test(s) ? Number(s) : NaN;
  if (!(Number.isInteger(n) && n >= lo && n <= hi)) {
    throw new EdgeArgError(`${flag} ${v === undefined ? '(missing value)' : JSON.stringify(v)}: ${what} must be a whole number ${lo}..${hi}`);
  }
  return n;
}

function addrOf(flag: string, v: unknown): number {
  return intIn(flag, v, 1, ADDR_MAX, 'a station address');
}

const HOST_RE = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))$/;

function ipv4(s: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const b = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  return b.every((x) => x <= 255) ? b : null;
}

function hostOf(flag: string, s: string): string {
  if (!HOST_RE.test(s) || (/^[\d.]+$/.test(s) && !ipv4(s))) throw new EdgeArgError(`${flag} ${JSON.stringify(s)}: not an IPv4 address or host name`);
  return s;
}

function peerOf(v: unknown): EdgePeer {
  const s = typeof v === 'string' ? v.trim() : '';
  const i = s.lastIndexOf(':');
  if (i <= 0) throw new EdgeArgError(`--peer ${JSON.stringify(v)}: give HOST:PORT, e.g. 127.0.0.1:47002`);
  return { address: hostOf('--peer', s.slice(0, i)), port: intIn('--peer', s.slice(i + 1), 1, 65535, 'the port') };
}

function callOf(v: unknown): EdgeCall {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const c = v as { dst?: unknown; op?: unknown; args?: unknown };
    return { dst: addrOf('--call dst', c.dst), op: intIn('--call op', c.op, 0, 255, 'an operation'), args: c.args ?? null };
  }
  const s = typeof v === 'string' ? v : '';
  const m = /^([^:]+):([^:]+)(?::([\s\S]*))?$/.exec(s);
  if (!m) throw new EdgeArgError(`--call ${JSON.stringify(v)}: give DST:OP or DST:OP:JSON, e.g. 7:2 or 7:1:"hello"`);
  let args: unknown = null;
  if (m[3] !== undefined) {
    try {
      args = JSON.parse(m[3]);
    } catch {
      throw new EdgeArgError(`--call ${JSON.stringify(v)}: the arguments after the second colon are not JSON`);
    }
  }
  // The whole argument is quoted in a message, then which part is wrong.
  const flag = `--call ${JSON.stringify(s)}:`;
  return { dst: intIn(`${flag} destination`, m[1], 1, ADDR_MAX, 'a station address'), op: intIn(`${flag} operation`, m[2], 0, 255, 'the operation'), args };
}

function listOf(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return v.split(',').map((x) => x.trim()).filter((x) => x !== '');
  return [v];
}

const KEYS: Record<string, string> = {
  addr: 'addr', port: 'port', bind: 'bind', peer: 'peers', peers: 'peers', group: 'group', conversation: 'conversation',
  messages: 'messages', every: 'every', call: 'calls', calls: 'calls', drop: 'drop', seed: 'seed', trace: 'trace', config: 'config', help: 'help',
};
const FLAGS_WITHOUT_VALUE = ['trace', 'help'];

/**
 * Parse `args` (the command line after the program). `readFile` reads a --config file (its errors
 * become EdgeArgErrors naming the file). `runtime` refuses what that runtime's board cannot do.
 */
export function parseEdgeArgs(args: readonly string[], runtime: 'deno' | 'node', readFile?: (path: string) => string): EdgeParse {
  // Raw values by key, the config file's first, then the flags' (repeatable keys accumulate).
  const flags: Record<string, unknown[]> = {};
  let configPath: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const m = /^--([a-z-]+)(?:=([\s\S]*))?$/.exec(a);
    if (!m || !KEYS[m[1]]) {
      throw new EdgeArgError(m ? `unknown option ${a.split('=')[0]}` : `unexpected argument ${JSON.stringify(a)}: options start with --`);
    }
    const key = KEYS[m[1]];
    if (key === 'help') return { help: true, options: null };
    let value: unknown;
    if (FLAGS_WITHOUT_VALUE.includes(key)) {
      if (m[2] !== undefined) throw new EdgeArgError(`--${m[1]} takes no value`);
      value = true;
    } else if (m[2] !== undefined) value = m[2];
    else {
      if (i + 1 >= args.length || /^--[a-z]/.test(args[i + 1])) throw new EdgeArgError(`--${m[1]} needs a value`);
      value = args[++i];
    }
    if (key === 'config') configPath = String(value);
    else (flags[key] ??= []).push(value);
  }

  const merged: Record<string, unknown[]> = {};
  if (configPath !== null) {
    if (!readFile) throw new EdgeArgError('--config: this runtime cannot read files here');
    let text: string;
    try {
      text = readFile(configPath);
    } catch (e) {
      // Deno refuses reads without --allow-read (a PermissionDenied / NotCapable error): only then say so.
      const denied = runtime === 'deno' && /PermissionDenied|NotCapable|--allow-read/.test(`${(e as Error).name} ${(e as Error).message}`);
      throw new EdgeArgError(`--config ${configPath}: cannot read it (${(e as Error).message})${denied ? '; Deno needs --allow-read' : ''}`);
    }
    let cfg: unknown;
    try {
      cfg = JSON.parse(text);
    } catch (e) {
      throw new EdgeArgError(`--config ${configPath}: not JSON (${(e as Error).message})`);
    }
    if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new EdgeArgError(`--config ${configPath}: give a JSON object such as {"addr": 7, "port": 47001, "peers": ["127.0.0.1:47002"]}`);
    for (const [k, v] of Object.entries(cfg as Record<string, unknown>)) {
      const key = KEYS[k];
      if (!key || key === 'config' || key === 'help') throw new EdgeArgError(`--config ${configPath}: unknown key "${k}"; keys are addr, port, bind, peers, group, conversation, messages, every, calls, drop, seed, trace`);
      merged[key] = key === 'peers' || key === 'calls' ? listOf(v) : [v];
    }
  }
  for (const k of Object.keys(flags)) {
    // A repeatable flag given on the command line replaces the file's list.
    merged[k] = k === 'peers' || k === 'calls' ? flags[k].flatMap((v) => (k === 'peers' ? listOf(v) : [v])) : flags[k];
  }
  const one = (k: string): unknown => {
    const v = merged[k];
    if (!v) return undefined;
    if (v.length > 1) throw new EdgeArgError(`--${k} is given ${v.length} times; give it once`);
    return v[0];
  };

  const addr = one('addr') === undefined ? 0 : addrOf('--addr', one('addr'));
  const port = one('port') === undefined ? 0 : intIn('--port', one('port'), 0, 65535, 'a UDP port');
  const bind = one('bind') === undefined ? '127.0.0.1' : String(one('bind'));
  if (!ipv4(bind)) throw new EdgeArgError(`--bind ${JSON.stringify(bind)}: give a local IPv4 address, such as 127.0.0.1 or 0.0.0.0`);
  const peers = (merged.peers ?? []).map(peerOf);
  let group: string | null = null;
  if (one('group') !== undefined) {
    if (runtime === 'deno') throw new EdgeArgError('--group: the deno-edge board sends to unicast peers only (Deno has no multicast datagrams); give --peer HOST:PORT');
    const g = ipv4(String(one('group')));
    if (!g || g[0] < 224 || g[0] > 239) throw new EdgeArgError(`--group ${JSON.stringify(one('group'))}: give an IPv4 multicast address, 224.0.0.0..239.255.255.255 (e.g. 239.1.2.3)`);
    if (peers.length > 0) throw new EdgeArgError('--group and --peer: give one of them (a group reaches every node in it)');
    if (port === 0) throw new EdgeArgError('--group needs --port: every node of the group binds the same port');
    group = String(one('group'));
  }

  if (addr === 0) throw new EdgeArgError('--addr is missing: give this node\'s station address, 1..65279 (e.g. --addr 7)');
  if (!group && peers.length === 0) throw new EdgeArgError(`no --peer${runtime === 'node' ? ' or --group' : ''}: give where frames go, e.g. --peer 127.0.0.1:47002`);
  let conversation: number[] | null = null;
  if (one('conversation') !== undefined) {
    const list = listOf(one('conversation')).map((x) => addrOf('--conversation', x));
    if (list.length < 2 || list.length > MAX_PARTICIPANTS) throw new EdgeArgError(`--conversation: give 2..${MAX_PARTICIPANTS} participants (got ${list.length})`);
    if (new Set(list).size !== list.length) throw new EdgeArgError('--conversation: a participant is listed twice');
    if (!list.includes(addr)) throw new EdgeArgError(`--conversation: this node (--addr ${addr}) must be one of the participants`);
    conversation = list;
  }
  const messages = one('messages') === undefined ? 10 : intIn('--messages', one('messages'), 0, 1000, 'the message count');
  const everyMs = one('every') === undefined ? 200 : intIn('--every', one('every'), 1, 60000, 'the interval in ms');
  const calls = (merged.calls ?? []).map(callOf);
  const dropPct = one('drop') === undefined ? 0 : intIn('--drop', one('drop'), 0, 90, 'the percent');
  const seed = one('seed') === undefined ? null : intIn('--seed', one('seed'), 0, 0xffffffff, 'the seed');
  const t = one('trace');
  if (t !== undefined && typeof t !== 'boolean') throw new EdgeArgError('trace: give true or false in the config file');
  return { help: false, options: { addr, port, bind, peers, group, conversation, messages, everyMs, calls, dropPct, seed, trace: t === true } };
}

/** What a board's command line writes to, and how it ends the process (injected so tests run it in-process). */
export interface EdgeIo {
  /** One line on standard output (no newline). */
  out(line: string): void;
  /** Text on standard error (no newline). */
  err(text: string): void;
  exit(code: number): void;
}

/**
 * The options of a command line, or null after printing the usage (--help, exit 0) or an error
 * (exit 2, the message and a pointer to --help on standard error).
 */
export function edgeArgsOrExit(program: string, args: readonly string[], runtime: 'deno' | 'node', io: EdgeIo, readFile?: (path: string) => string): EdgeOptions | null {
  try {
    const p = parseEdgeArgs(args, runtime, readFile);
    if (p.help) {
      io.out(usage(runtime));
      io.exit(0);
      return null;
    }
    return p.options;
  } catch (e) {
    if (!(e instanceof EdgeArgError)) throw e;
    io.err(`${program}: ${e.message}\n(run with --help for the options)`);
    io.exit(2);
    return null;
  }
}
