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
  for (let round = 0; round < 100; round++) {
    t += 900n;
    const batch = [];
    for (const [i, d] of devs.entries())
      batch.push(await sign(l, { ...reading(l, { seq: BigInt(round), timestamp: t, importWh: BigInt(round * 100), exportWh: BigInt(round * 50) }), deviceId: d.id }, d.key));
    await setNextTimestamp(l, t + 1n);
    const rc = await (await l.readings.connect(l.relayer).submitReadings(batch)).wait();
    if (round < 3 || round > 97) console.log(round, rc!.gasUsed, Number(rc!.gasUsed) / 10);
  }
  // single
  t += 900n;
  const one = await sign(l, { ...reading(l, { seq: 1000n, timestamp: t, importWh: 100000n, exportWh: 5100n }), deviceId: devs[0]!.id }, devs[0]!.key);
  await setNextTimestamp(l, t + 1n);
  const rc = await (await l.readings.connect(l.relayer).submitReading(one)).wait();
  console.log('single', rc!.gasUsed);
  const c = await (await l.readings.connect(l.member).claimRewards(devs[0]!.id)).wait();
  console.log('claim first', c!.gasUsed);
  await l.chain.close();
}
main();
