// The psync benchmark's token ring survives lost datagrams: process 0 drops a share of the Psync
// frames it receives (--loss), and the run still completes, because every token holder resends its
// message when nothing follows it (the paper's last-ACK rule, bench/peer/psync-net.ts lastAck) and
// Psync's retransmission requests fill the gaps. Without the resend, the first lost token stops the
// ring and the run fails with "no answer in 3000 ms". Timings are not asserted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bench } from '../../bench/psync.ts';

test('bench psync --loss=3: the ring completes through lost datagrams (last-ACK resends)', async () => {
  const r = await bench(['--quick', '--calls=30', '--passes=120', '--hosts=2,4', '--sizes=', '--loss=3']);
  const resends = r.rows.find((x) => x.name === 'last-ACK resends');
  assert.ok(resends, 'the resend row');
  assert.ok(Number.isInteger(resends!.value) && resends!.value >= 0);
  for (const row of r.rows) assert.ok(Number.isFinite(row.value), `${row.name} = ${row.value}`);
  console.log(`  psync ring at 3% loss: ${resends!.value} last-ACK resends by process 0`);
});

test('bench psync refuses a loss that is not a percentage', async () => {
  try {
    await bench(['--quick', '--loss=abc']);
    assert.unreachable('accepted --loss=abc');
  } catch (e) {
    assert.match((e as Error).message, /--loss=abc is not a percentage/);
  }
});

test.run();
