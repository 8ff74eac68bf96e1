/**
 * The gateway's market duties for its own device, one `tick()` at a time (the runtime calls it on a
 * timer; tests call it with the chain clock where they want it):
 *
 * - as a seller with buyers: submit a device-signed reading at the window start (inside
 *   [start − tolerance, start]) and one at the end (inside [end, end + tolerance]), prove delivery
 *   with them (continuing from the previous proof's end reading when that lies later), then settle
 *   every buyer; an offer nobody took is cancelled once it expired, which ends its export hold;
 * - as a buyer: settle its own positions once the seller's offer is proven or its grace period over.
 *
 * A reading already accepted in a band (the payer's, or this agent's from before a restart) is used
 * instead of a new one. New readings carry the meter's cumulative counters at the moment of the tick
 * and the chain's time.
 * A step that fails is logged and retried on the next tick; nothing here throws out of `tick()`.
 */
import type { Signer } from 'ethers';
import type { TypedDataSigner } from '../chain/typed-data';
import { signReading } from '../chain/eip712';
import { GatewayRegistry__factory, MeterReadings__factory, type MeterReadings } from '../chain/types';
import type { MarketClient } from './client';

/** How many of the newest checkpoints a search for a window reading looks at (MeterReadings keeps 96). */
const CHECKPOINT_SCAN = 96n;

export interface MarketAgentOptions {
  client: MarketClient;
  /** MeterReadings address. */
  readings: string;
  /** The device key (HEPEK wallet). */
  device: TypedDataSigner & { address: string };
  deviceId: string;
  /** The meter's cumulative counters now, Wh; null while the meter has no reading. */
  counters(): { importWh: number; exportWh: number } | null;
  /** Pays the gas of readings, proofs and settlements. */
  relayer: Signer;
  log?: (line: string) => void;
}

interface OwnOffer {
  startSeq?: bigint;
  startTs?: bigint;
  endSeq?: bigint;
  done: boolean;
}

/** What one tick did, for logs and tests. */
export interface TickReport {
  readings: bigint[];
  proven: bigint[];
  settled: Array<{ offerId: bigint; buyer: string }>;
  cancelled: bigint[];
}

export class MarketAgent {
  private readonly readings: MeterReadings;
  private readonly own = new Map<bigint, OwnOffer>();
  /** Offers of others whose outcome for this wallet is not known yet. */
  private readonly others = new Set<bigint>();
  private scanned = 0n;
  private params: { tolerance: bigint; grace: bigint } | null = null;
  private busy = false;

  constructor(private readonly options: MarketAgentOptions) {
    this.readings = MeterReadings__factory.connect(options.readings, options.relayer);
  }

  private log(line: string): void {
    this.options.log?.(`market: ${line}`);
  }

  /** One pass over the device's offers and positions. Overlapping calls are skipped. */
  async tick(): Promise<TickReport> {
    const report: TickReport = { readings: [], proven: [], settled: [], cancelled: [] };
    if (this.busy) return report;
    this.busy = true;
    try {
      const { client, deviceId } = this.options;
      this.params ??= { tolerance: await client.market.TOLERANCE(), grace: await client.market.GRACE() };
      const count = await client.market.offerCount();
      for (let id = this.scanned + 1n; id <= count; id++) {
        const o = await client.market.offerOf(id);
        if (o.sellerDeviceId === deviceId) this.own.set(id, { done: false });
        else this.others.add(id);
      }
      this.scanned = count;
      for (const [id, state] of this.own) {
        if (state.done) continue;
        await this.step(`offer ${id}`, () => this.seller(id, state, report));
      }
      for (const id of this.others) await this.step(`offer ${id}`, () => this.buyer(id, report));
    } catch (err) {
      this.log(`tick failed: ${(err as Error).message}`);
    } finally {
      this.busy = false;
    }
    return report;
  }

  private async step(what: string, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      this.log(`${what}: ${(err as Error).message}`);
    }
  }

  private async seller(id: bigint, state: OwnOffer, report: TickReport): Promise<void> {
    const { client, device, deviceId } = this.options;
    const { tolerance, grace } = this.params!;
    const o = await client.market.offerOf(id);
    const now = await client.chainNow();
    const start = o.deliveryStart;
    const end = o.deliveryEnd;
    if (o.takenWh === 0n) {
      if (o.wattHours === 0n) state.done = true;
      else if (now >= o.expiry) {
        await client.cancel(device, deviceId, id);
        report.cancelled.push(id);
        state.done = true;
      }
      return;
    }
    if (!o.proven && now <= end + grace) {
      // A reading already on chain in the band serves: one the payer sent, or ours from before a
      // restart (this agent's memory is gone then, the chain's is not).
      if (state.startSeq === undefined && now + tolerance >= start) {
        const found = await this.readingIn(start - tolerance, start);
        if (found) [state.startSeq, state.startTs] = [found.seq, found.timestamp];
        else if (now < start) {
          const r = await this.submitReading(now);
          if (r) [state.startSeq, state.startTs] = [r, now];
          if (r) report.readings.push(r);
        }
      }
      if (state.endSeq === undefined && now >= end) {
        const found = await this.readingIn(end, end + tolerance);
        if (found) state.endSeq = found.seq;
        else if (now <= end + tolerance) {
          const r = await this.submitReading(now);
          if (r) state.endSeq = r;
          if (r) report.readings.push(r);
        }
      }
      if (state.startSeq !== undefined && state.endSeq !== undefined && now > end) {
        const mark = await client.market.proofMarkOf(deviceId);
        const startSeq = mark.endTimestamp > state.startTs! ? mark.endSeq : state.startSeq;
        await client.prove(id, startSeq, state.endSeq);
        report.proven.push(id);
        this.log(`proved offer ${id} with readings ${startSeq}..${state.endSeq}`);
        return;
      }
    }
    if (o.proven || now > end + grace) {
      for (const s of await client.settle(id)) report.settled.push({ offerId: id, buyer: s.buyerWallet });
      if ((await client.market.offerOf(id)).openPositions === 0n) state.done = true;
    }
  }

  private async buyer(id: bigint, report: TickReport): Promise<void> {
    const { client, device } = this.options;
    const o = await client.market.offerOf(id);
    const now = await client.chainNow();
    if (now <= o.deliveryEnd) return;
    const position = await client.market.positionOf(id, device.address);
    if (position.wattHours === 0n) {
      // Past the window nobody can take more: this wallet has no stake (or was settled).
      this.others.delete(id);
      return;
    }
    if (o.proven || now > o.deliveryEnd + this.params!.grace) {
      await client.settle(id, device.address);
      report.settled.push({ offerId: id, buyer: device.address });
      this.others.delete(id);
    }
  }

  /**
   * The newest accepted reading of this device with a timestamp in [from, to], from the checkpoints
   * MeterReadings keeps (newest first, stopping below `from`); null when there is none.
   */
  private async readingIn(from: bigint, to: bigint): Promise<{ seq: bigint; timestamp: bigint } | null> {
    const { deviceId } = this.options;
    const account = await this.readings.accountOf(deviceId);
    if (!account.hasBaseline) return null;
    const oldest = account.lastSeq >= CHECKPOINT_SCAN ? account.lastSeq - CHECKPOINT_SCAN + 1n : 1n;
    for (let seq = account.lastSeq; seq >= oldest; seq--) {
      let cp: { seq: bigint; timestamp: bigint };
      try {
        cp = await this.readings.checkpointOf(deviceId, seq);
      } catch {
        return null; // older than the ring (or never accepted): nothing further down either
      }
      if (cp.timestamp < from) return null;
      if (cp.timestamp <= to) return { seq: cp.seq, timestamp: cp.timestamp };
    }
    return null;
  }

  private rated: bigint | null = null;

  /** The device's rated export power, W (read once). */
  private async registry(): Promise<{ ratedExportW: bigint }> {
    if (this.rated === null) {
      const registry = GatewayRegistry__factory.connect(await this.readings.REGISTRY(), this.options.relayer);
      this.rated = (await registry.deviceCore(this.options.deviceId)).ratedExportW;
    }
    return { ratedExportW: this.rated };
  }

  /** Signs the meter's counters at `timestamp` as the device's next reading and submits it. */
  private async submitReading(timestamp: bigint): Promise<bigint | null> {
    const counters = this.options.counters();
    if (!counters) {
      this.log('no meter reading yet; the window reading waits for the next tick');
      return null;
    }
    const { deviceId, device } = this.options;
    const account = await this.readings.accountOf(deviceId);
    let last = { timestamp: 0n, importWh: 0n, exportWh: 0n };
    if (account.hasBaseline) {
      const cp = await this.readings.latestOf(deviceId);
      last = { timestamp: cp.timestamp, importWh: cp.importWh, exportWh: cp.exportWh };
    }
    if (timestamp <= last.timestamp) return account.lastSeq;
    const seq = account.hasBaseline ? account.lastSeq + 1n : 1n;
    // MeterReadings refuses more export than the rated power allows since the last reading; an
    // accelerated simulator (or a meter that was offline) can be ahead of that, so report at most
    // the allowed counter now — the rest follows in later readings, nothing is lost or invented.
    let exportWh = maxBig(BigInt(Math.floor(counters.exportWh)), last.exportWh);
    if (account.hasBaseline) {
      const ratedExportW = (await this.registry()).ratedExportW;
      const maxWh = last.exportWh + (ratedExportW * (timestamp - last.timestamp)) / 3600n;
      if (exportWh > maxWh) exportWh = maxWh;
    }
    const network = await this.options.relayer.provider!.getNetwork();
    const signed = await signReading(
      device,
      { chainId: network.chainId, verifyingContract: await this.readings.getAddress() },
      {
        deviceId,
        seq,
        timestamp,
        // Never below the chain's last counters (the meter may lag a reading another path sent).
        importWh: maxBig(BigInt(Math.floor(counters.importWh)), last.importWh),
        exportWh,
        batteryPermille: 0,
      },
    );
    await (await this.readings.submitReading(signed)).wait();
    this.log(`submitted reading ${seq} at ${timestamp} (export ${signed.exportWh} Wh)`);
    return seq;
  }
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
