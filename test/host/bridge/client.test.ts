// The bridge client (host/bridge/client.ts) against a stand-in bridge on a loopback UDP socket that
// answers as the bridge does: a request larger than the bridge takes fails at once, before anything
// is sent, with a message naming the limit; a reply whose id is null (the bridge could not read the
// request's id, as for a datagram over ENVELOPE_MAX) fails the one request in progress with the
// bridge's error instead of being dropped until the timeout; with two in progress, the readable one
// keeps its answer and the other fails once it is the only one left (its resend is refused again).
// A host name that does not resolve is reported as such at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, type Socket } from 'node:dgram';
import { hostDecode } from '../../../host/codec/cbor.ts';
import { BR_E_MALFORMED, ENVELOPE_MAX, errReply, okReply } from '../../../host/bridge/envelope.ts';
import { BridgeError, RequestTooLarge, bridgeClient } from '../../../host/bridge/client.ts';

interface Stand {
  sock: Socket;
  port: number;
  /** Datagrams received, decoded. */
  got: Record<string, unknown>[];
  close(): void;
}

/**
 * A stand-in bridge: a request with field "unreadable" gets the reply the bridge sends when it cannot
 * read an id ({id: null, err}); any other one gets {id, ok: "fine"}, once `answerAfter` requests came.
 */
async function standIn(answerAfter = 0): Promise<Stand> {
  const sock = createSocket('udp4');
  const got: Record<string, unknown>[] = [];
  const held: { id: number; port: number; address: string }[] = [];
  sock.on('message', (m, from) => {
    const r = hostDecode(new Uint8Array(m)) as Record<string, unknown>;
    got.push(r);
    if ('unreadable' in r) {
      sock.send(errReply(null, BR_E_MALFORMED, `request of ${m.length + 3000} bytes: at most ${ENVELOPE_MAX}`), from.port, from.address);
      return;
    }
    held.push({ id: r.id as number, port: from.port, address: from.address });
    if (got.length < answerAfter) return;
    for (const h of held.splice(0)) sock.send(okReply(h.id, 'fine'), h.port, h.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { sock, port: sock.address().port, got, close: () => sock.close() };
}

test('a request larger than a bridge takes fails at once, names the limit, and sends nothing', async () => {
  const s = await standIn();
  const c = await bridgeClient({ port: s.port, timeoutMs: 10_000 });
  try {
    let err: unknown;
    await c.request({ to: 2, op: 1, args: 'a'.repeat(3000) }).catch((e) => { err = e; });
    assert.ok(err instanceof RequestTooLarge, String(err));
    assert.match((err as Error).message, new RegExp(`is 30\\d\\d bytes as CBOR, and a bridge takes at most ${ENVELOPE_MAX} bytes per request: send smaller arguments`));
    // A request just under the limit still goes, and is answered.
    assert.is(await c.request({ to: 2, op: 1, args: 'a'.repeat(ENVELOPE_MAX - 40) }), 'fine');
    assert.is(s.got.length, 1, 'only the request under the limit reached the bridge');
  } finally {
    c.close();
    s.close();
  }
});

test('a reply with a null id and an error fails the one request in progress with the bridge\'s message', async () => {
  const s = await standIn();
  const c = await bridgeClient({ port: s.port, timeoutMs: 20_000 });
  try {
    let err: unknown;
    await c.request({ to: 2, op: 1, unreadable: true }).catch((e) => { err = e; });
    assert.ok(err instanceof BridgeError, `a BridgeError, not a timeout: ${String(err)}`);
    assert.is((err as BridgeError).code, BR_E_MALFORMED);
    assert.match((err as Error).message, new RegExp(`malformed request: request of \\d+ bytes: at most ${ENVELOPE_MAX}`));
  } finally {
    c.close();
    s.close();
  }
});

test('two requests in progress and a null-id error: the readable one keeps its answer, the other then fails', async () => {
  // The readable request is answered only once both have arrived, so the null-id error comes while
  // two are in progress and cannot be told apart; the unreadable one's resend is refused again when
  // it is alone.
  const s = await standIn(2);
  const c = await bridgeClient({ port: s.port, timeoutMs: 20_000, resendMs: 100 });
  try {
    const bad = c.request({ to: 2, op: 1, unreadable: true }).then(() => null, (e: unknown) => e);
    const good = c.request({ to: 2, op: 1 });
    assert.is(await good, 'fine');
    const err = await bad;
    assert.ok(err instanceof BridgeError, `a BridgeError, not a timeout: ${String(err)}`);
    assert.is((err as BridgeError).code, BR_E_MALFORMED);
  } finally {
    c.close();
    s.close();
  }
});

test('a bridge host name that does not resolve is said at once, not after the timeout', async () => {
  const c = await bridgeClient({ host: 'nohost.invalid', port: 47910, timeoutMs: 20_000 });
  try {
    // .invalid never resolves (RFC 6761); without the check this waits out the timeout and then says
    // that no bridge answered.
    const e = await c.request({ q: 'groups' }).then(() => null, (x: Error) => x);
    assert.ok(e, 'refused');
    assert.match(e!.message, /cannot find the host "nohost\.invalid" \((ENOTFOUND|EAI_AGAIN|EAI_NONAME)\)/);
  } finally {
    c.close();
  }
});

test.run();
