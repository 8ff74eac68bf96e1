/**
 * Gas of the ledger's hot paths on the in-process dev chain: submitting readings (single and a
 * relayed batch of 10 devices) and claiming rewards, each in the steady state and first time.
 *
 * Steady state: every device has its baseline and more than 96 earlier readings (so its checkpoint
 * ring slots are already written), exports in every reading (so each accrues reward and credits), is
 * a prosumer, and its HEPEK wallet already holds ERGON from an earlier claim. First time: a device's
 * very first reading (the baseline), and a claim into a wallet that holds no ERGON yet.
 *
 *   npm run bench -- gas ledger
 */
import { BrowserProvider, Wallet, id, parseEther, toQuantity } from 'ethers';
import { EmbeddedChain } from '../../gateway/chain/embedded';
import { deployLedger } from '../../gateway/chain/deploy';
import { signClaim, signReading, type SignedReading } from '../../gateway/chain/eip712';
import { deviceIdFromSerial } from '../../gateway/chain/ids';
import { GatewayRegistry__factory, MeterReadings__factory } from '../../gateway/chain/types';
import type { GasRow } from './types';

const CHAIN_ID = 31337;
const DEVICES = 10;
const RATED_EXPORT_W = 4600;
/** Earlier readings per device before measuring: more than the 96-slot checkpoint ring. */
const WARM_READINGS = 100;
const PERIOD_S = 900n;

interface Device {
  id: string;
  key: Wallet;
  seq: bigint;
  importWh: bigint;
  exportWh: bigint;
}

export async function measure(): Promise<GasRow[]> {
  const chain = await EmbeddedChain.open({ dir: null, chainId: CHAIN_ID, hardfork: 'cancun' });
  const provider = new BrowserProvider(chain, CHAIN_ID, { cacheTimeout: -1 });
  try {
    const [admin, operator, manufacturer, member, relayer] = [
      'admin',
      'operator',
      'manufacturer',
      'member',
      'relayer',
    ].map((label) => new Wallet(id(`hepek-gas-bench:${label}`), provider)) as [
      Wallet,
      Wallet,
      Wallet,
      Wallet,
      Wallet,
    ];
    for (const w of [admin, operator, manufacturer, member, relayer])
      await chain.request({
        method: 'hardhat_setBalance',
        params: [w.address, toQuantity(parseEther('1000'))],
      });
    const addresses = await deployLedger(admin, {
      operator: operator.address,
      manufacturer: manufacturer.address,
    });
    const registry = GatewayRegistry__factory.connect(addresses.GatewayRegistry!, provider);
    const readings = MeterReadings__factory.connect(addresses.MeterReadings!, relayer);
    const where = { chainId: CHAIN_ID, verifyingContract: addresses.MeterReadings! };

    const onboard = async (serial: string): Promise<Device> => {
      const device: Device = {
        id: deviceIdFromSerial(serial),
        key: new Wallet(id(`hepek-gas-bench:key:${serial}`)),
        seq: 1n,
        importWh: 3_500_000n,
        exportWh: 1_200_000n,
      };
      await (
        await registry.connect(manufacturer).register(device.id, device.key.address, RATED_EXPORT_W)
      ).wait();
      const signature = await signClaim(device.key, {
        chainId: CHAIN_ID,
        registry: addresses.GatewayRegistry!,
        deviceId: device.id,
        member: member.address,
        nonce: 0n,
      });
      await (await registry.connect(relayer).claim(device.id, member.address, 0n, signature)).wait();
      await (await registry.connect(operator).setMode(device.id, 1)).wait();
      return device;
    };
    /** The device's next reading: 15 minutes later, 250 Wh imported, 300 Wh exported (1.2 kW < rated). */
    const nextReading = (device: Device, timestamp: bigint): Promise<SignedReading> => {
      const reading = {
        deviceId: device.id,
        seq: device.seq,
        timestamp,
        importWh: device.importWh,
        exportWh: device.exportWh,
        batteryPermille: 640,
      };
      device.seq += 1n;
      device.importWh += 250n;
      device.exportWh += 300n;
      return signReading(device.key, where, reading);
    };
    let t = BigInt((await provider.getBlock('latest'))!.timestamp) + 60n;
    const inBlockAt = async <T>(timestamp: bigint, send: () => Promise<T>): Promise<T> => {
      await chain.request({ method: 'evm_setNextBlockTimestamp', params: [toQuantity(timestamp)] });
      return send();
    };
    const gasOf = async (tx: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>) =>
      Number((await (await tx).wait())!.gasUsed);

    const fleet: Device[] = [];
    for (let i = 0; i < DEVICES; i++) fleet.push(await onboard(`GAS-${i}`));
    const single = await onboard('GAS-SINGLE');

    // First time: the baseline readings of fresh devices.
    const batchFirst = await Promise.all(fleet.map((d) => nextReading(d, t)));
    const submitReadingsBatch10FirstTime = await inBlockAt(t, () =>
      gasOf(readings.submitReadings(batchFirst)),
    );
    const submitReadingFirstTime = await inBlockAt(t + 1n, async () =>
      gasOf(readings.submitReading(await nextReading(single, t))),
    );

    // Warm up: fill every device's checkpoint ring and accrue rewards.
    for (let round = 1; round < WARM_READINGS; round++) {
      t += PERIOD_S;
      const batch = await Promise.all([...fleet, single].map((d) => nextReading(d, t)));
      await inBlockAt(t, async () => (await readings.submitReadings(batch)).wait());
    }
    // First claim: the HEPEK wallet holds no ERGON yet. Later claims find it holding some.
    const claimRewardsFirstTime = await gasOf(readings.connect(member).claimRewards(single.id));

    t += PERIOD_S;
    const batch = await Promise.all(fleet.map((d) => nextReading(d, t)));
    const submitReadingsBatch10 = await inBlockAt(t, () => gasOf(readings.submitReadings(batch)));
    const submitReading = await inBlockAt(t + 1n, async () =>
      gasOf(readings.submitReading(await nextReading(single, t))),
    );
    const claimRewards = await gasOf(readings.connect(member).claimRewards(single.id));

    return [
      {
        key: 'submitReading',
        gas: submitReading,
        note: 'one relayed reading, export accrues reward + credits',
      },
      {
        key: 'submitReading',
        gas: submitReadingFirstTime,
        firstTime: true,
        note: "a device's first reading (baseline)",
      },
      {
        key: 'submitReadingsBatch10',
        gas: submitReadingsBatch10,
        note: `whole batch, ${submitReadingsBatch10 / 10} per reading`,
      },
      {
        key: 'submitReadingsBatch10',
        gas: submitReadingsBatch10FirstTime,
        firstTime: true,
        note: `10 baselines, ${submitReadingsBatch10FirstTime / 10} per reading`,
      },
      {
        key: 'readingInBatch10',
        gas: submitReadingsBatch10 / 10,
        note: 'steady batch / 10 (target ≤ 30,000)',
      },
      { key: 'claimRewards', gas: claimRewards, note: 'mint accrued ERGON to a wallet that holds ERGON' },
      { key: 'claimRewards', gas: claimRewardsFirstTime, firstTime: true, note: 'first ERGON in the wallet' },
    ];
  } finally {
    provider.destroy();
    await chain.close();
  }
}
