/**
 * Vouchers/s through the hub's full verification path against native secp256k1 recovery alone,
 * measured in the same run on the same signatures.
 *
 *   npm run bench -- hub [--channels N] [--cycles N]     # bench/out/hub.json
 *
 * A fleet of N devices (default 500), each with an open channel to the hub, on a fresh in-process
 * chain (bench/hub-fleet.ts). Every device signs one voucher per cycle (natively, distinct amounts:
 * no voucher is ever resent). Cycle 0 warms the hub (registry and channel reads, the payer key
 * cache); then each round feeds whole cycles — every channel's next voucher, all in flight at once —
 * to `Hub.handle(topic, payload)`, the compiled code the MQTT handler calls: JSON decode, strict
 * parse, device and channel books, EIP-712 digest (two native keccaks), one native recovery, the
 * checks of PaymentChannels.close, the durable journal write (group commit) and the ack. The
 * baseline is `secp256k1.ecdsaRecover` alone on the same (signature, digest) pairs: the floor no
 * verifier can beat. Rates are per CPU-second of this process (the box is shared) with wall clock
 * next to them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ecdsaRecover } from 'secp256k1';
import { fromDist } from './dist';
import { provisionFleet, signDigest, FLEET_CHAIN_ID } from './hub-fleet';
import { countFlag as flag, report } from './report';

const { Hub } = fromDist<typeof import('../gateway/hub/hub')>('gateway/hub/hub');
const { encodeVoucherMessage, hubTopics } =
  fromDist<typeof import('../gateway/hub/protocol')>('gateway/hub/protocol');
const { VoucherVerifier } = fromDist<typeof import('../gateway/hub/verify')>('gateway/hub/verify');

const CHANNELS = flag('--channels', 500);
const CYCLES = flag('--cycles', 30); // per round
const ROUNDS = 3;
const STEP = 1_000_000_000_000_000n; // 0.001 ERGON per cycle

interface Rate {
  cpu: number;
  wall: number;
}

async function measure(count: number, fn: () => Promise<void> | void): Promise<Rate> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const used = process.cpuUsage(cpu0);
  return { cpu: count / ((used.user + used.system) / 1e6), wall: count / wall };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const t0 = Date.now();
  const fleet = await provisionFleet(CHANNELS, (l) => process.stdout.write(`${l}\n`));
  process.stdout.write(`fleet of ${CHANNELS} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hepek-bench-hub-'));
  const warnings: string[] = [];
  const hub = await Hub.open({
    provider: fleet.provider,
    wallet: fleet.hub,
    chainId: FLEET_CHAIN_ID,
    contracts: fleet.contracts,
    dir,
    region: 'bench',
    closeSpentPercent: 0,
    closeIntervalSeconds: 0,
    readingBatchSize: 50,
    deviceCacheSeconds: 86_400,
    log: { info: () => {}, warn: (l) => warnings.push(l) },
  });
  const verifier = new VoucherVerifier(fleet.deployment);
  const totalCycles = 1 + ROUNDS * CYCLES;
  // Every voucher signed up front (not measured): payloads for the hub, raw pairs for the baseline.
  const payloads: string[][] = [];
  const raw: Array<{ sig: Uint8Array; recid: number; digest: Uint8Array }> = [];
  for (let cycle = 0; cycle < totalCycles; cycle++) {
    const row: string[] = [];
    for (const d of fleet.devices) {
      const amount = STEP * BigInt(cycle + 1);
      const digest = verifier.digest(d.channelId, amount);
      const signature = signDigest(digest, d.privateKey);
      row.push(
        JSON.stringify(
          encodeVoucherMessage({
            id: `voucher-${d.channelId}-${cycle}`,
            channelId: d.channelId,
            cumulativeAmount: amount,
            cycle,
            importWh: cycle * 250,
            tariffId: 'bench-flat',
            signature,
          }),
        ),
      );
      if (cycle > 0)
        raw.push({
          sig: Buffer.from(signature.slice(2, 130), 'hex'),
          recid: parseInt(signature.slice(130), 16) - 27,
          digest: Buffer.from(digest),
        });
    }
    payloads.push(row);
  }
  const topics = fleet.devices.map((d) => hubTopics.voucher(d.serial));
  let refused = 0;
  const feed = async (cycle: number) => {
    const acks = await Promise.all(payloads[cycle]!.map((p, i) => hub.handle(topics[i]!, p)));
    for (const a of acks) if (!a?.ok) refused++;
  };
  await feed(0); // warm-up: registry and channel reads, payer keys
  if (refused > 0)
    throw new Error(`warm-up: ${refused} vouchers refused: ${warnings.slice(0, 3).join('; ')}`);

  const verifyRates: Rate[] = [];
  const handleRates: Rate[] = [];
  const rawRates: Rate[] = [];
  let sink = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const first = 1 + round * CYCLES;
    // The verification path on every voucher of the round's cycles (nothing is accepted)...
    verifyRates.push(
      await measure(CYCLES * CHANNELS, async () => {
        for (let c = first; c < first + CYCLES; c++) {
          const refusals = await Promise.all(
            payloads[c]!.map((p, i) => hub.verifyVoucher(fleet.devices[i]!.serial, p)),
          );
          for (const r of refusals) if (r) refused++;
        }
      }),
    );
    // ... native recovery alone on the same signatures ...
    const pairs = raw.slice(round * CYCLES * CHANNELS, (round + 1) * CYCLES * CHANNELS);
    rawRates.push(
      await measure(pairs.length, () => {
        for (const { sig, recid, digest } of pairs) sink ^= ecdsaRecover(sig, recid, digest, false)[1]!;
      }),
    );
    // ... and the same vouchers accepted for real: Hub.handle, journal and ack included.
    handleRates.push(
      await measure(CYCLES * CHANNELS, async () => {
        for (let c = first; c < first + CYCLES; c++) await feed(c);
      }),
    );
  }
  if (refused > 0)
    throw new Error(`${refused} valid vouchers were refused: ${warnings.slice(0, 3).join('; ')}`);
  const held = hub.books.get(fleet.devices[0]!.channelId.toString())?.held?.cumulativeAmount;
  if (held !== STEP * BigInt(totalCycles))
    throw new Error(`the hub holds ${held}, expected ${STEP * BigInt(totalCycles)}`);
  await hub.stop();
  await fleet.close();
  rmSync(dir, { recursive: true, force: true });

  const verified = median(verifyRates.map((r) => r.cpu));
  const verifiedWall = median(verifyRates.map((r) => r.wall));
  const accepted = median(handleRates.map((r) => r.cpu));
  const acceptedWall = median(handleRates.map((r) => r.wall));
  const rawCpu = median(rawRates.map((r) => r.cpu));
  const rawWall = median(rawRates.map((r) => r.wall));
  const ratio = verified / rawCpu;
  const round = (x: number) => Math.round(x);
  const both = (cpu: number, wall: number) => `${round(cpu)} (wall clock ${round(wall)})`;
  report(
    'hub',
    [
      ['channels × cycles per round × rounds', `${CHANNELS} × ${CYCLES} × ${ROUNDS}`],
      ['distinct vouchers per measurement', `${ROUNDS * CYCLES * CHANNELS}`],
      ['load average (1 min)', os.loadavg()[0]!.toFixed(1)],
      ['baseline: secp256k1.ecdsaRecover alone, per CPU-s', both(rawCpu, rawWall)],
      ['hub verification (Hub.verifyVoucher), per CPU-s', both(verified, verifiedWall)],
      ['verification / raw recovery (CPU)', ratio.toFixed(3)],
      ['goal ratio ≥ 0.8', ratio >= 0.8 ? 'met' : 'NOT met'],
      ['accepted (Hub.handle: + journal fdatasync + ack), per CPU-s', both(accepted, acceptedWall)],
      ['accepted / raw recovery (CPU)', (accepted / rawCpu).toFixed(3)],
      ['baseline sane (≥ 8,000/s)', rawCpu >= 8000 ? 'yes' : 'NO: the baseline itself is wrong'],
    ],
    {
      verifiedPerSec: round(verified),
      rawRecoverPerSec: round(rawCpu),
      ratio: Number(ratio.toFixed(3)),
      acceptedPerSec: round(accepted),
      acceptedRatio: Number((accepted / rawCpu).toFixed(3)),
      verifiedPerSecWallClock: round(verifiedWall),
      acceptedPerSecWallClock: round(acceptedWall),
      rawRecoverPerSecWallClock: round(rawWall),
      channels: CHANNELS,
      vouchers: ROUNDS * CYCLES * CHANNELS,
      loadAverage: Number(os.loadavg()[0]!.toFixed(2)),
    },
  );
  if (sink === 0.5) process.stdout.write('');
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
