import { Wallet } from 'ethers';
import { ledgerFixture, onboardDevice, sign, reading, now, setNextTimestamp } from './test/helpers/ledger';
import { deviceIdFromSerial } from './gateway/chain/ids';
import { testKey } from './test/helpers/chain';
async function main() {
  const l = await ledgerFixture();
  const devs = [] as { id: string; key: Wallet }[];
  for (let i = 0; i < 10; i++) {
    const d = { id: deviceIdFromSerial(`B-${i}`), key: new Wallet(testKey(`b-${i}`)) };
    await onboardDevice(l, { deviceId: d.id, key: d.key, member: l.member });
    devs.push(d);
  }
  let t = await now(l);
  let hash = '';
  const rounds = Number(process.env.ROUNDS ?? 100);
  for (let round = 0; round < rounds; round++) {
    t += 900n;
    const batch = [];
    for (const d of devs)
      batch.push(await sign(l, { ...reading(l, { seq: BigInt(round), timestamp: t, importWh: BigInt(round * 100), exportWh: BigInt(round * 50) }), deviceId: d.id }, d.key));
    await setNextTimestamp(l, t + 1n);
    const tx = await l.readings.connect(l.relayer).submitReadings(batch);
    const rc = await tx.wait();
    hash = tx.hash;
    if (round === rounds - 1) console.log(round, rc!.gasUsed, Number(rc!.gasUsed) / 10, 'calldata bytes', (tx.data.length - 2) / 2);
  }
  const trace = (await l.chain.provider.send('debug_traceTransaction', [hash, { disableStack: true, disableMemory: true, disableStorage: true }])) as { structLogs: { op: string; gasCost: number; depth: number }[] };
  const by: Record<string, number> = {};
  const dep: Record<number, number> = {}; for (const s of trace.structLogs) { if (!s.op.includes("CALL")) dep[s.depth] = (dep[s.depth] ?? 0) + s.gasCost; if (s.depth >= 1) by[s.op] = (by[s.op] ?? 0) + s.gasCost; } console.log(dep, trace.structLogs.filter(s=>s.depth===1).length);
  console.log(Object.entries(by).sort((a, b) => b[1] - a[1]).slice(0, 25));
  await l.chain.close();
}
main();
