/**
 * The ledger flows that settle on chain, read from the chain's own events so that whoever sent the
 * transaction (this gateway, the hub, a buyer, the owner's wallet) they are counted:
 *
 * - `reward`: MeterReadings `RewardsClaimed(deviceId = this device)` — export rewards claimed;
 * - `market`: EnergyMarket `OfferSettled` of an offer this device listed — what a buyer paid.
 *
 * Each event is recorded once (ref = `<txHash>:<logIndex>`, see LedgerJournal) at its block's time.
 * The last block read is kept in `cursorFile`, so a restart reads on from there (the first start
 * begins at the chain's head); an RPC outage only delays the next poll.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { AbstractProvider } from 'ethers';
import { EnergyMarket__factory, MeterReadings__factory } from '../chain/types';
import type { LedgerSink } from './ledger';

export interface LedgerChainOptions {
  provider: AbstractProvider;
  deviceId: string;
  meterReadings?: string;
  energyMarket?: string;
  ledger: LedgerSink;
  /** Where the last block read is kept (JSON `{block}`). */
  cursorFile: string;
  /** Blocks per log query. Default 2000. */
  chunkBlocks?: number;
  log?: (line: string) => void;
}

export interface LedgerChainWatcher {
  /** Reads every new block's events up to the chain's head; resolves when recorded. */
  poll(): Promise<void>;
  readonly lastBlock: number;
}

function readCursor(file: string): number | null {
  if (!existsSync(file)) return null;
  try {
    const { block } = JSON.parse(readFileSync(file, 'utf8')) as { block?: unknown };
    return typeof block === 'number' && Number.isSafeInteger(block) && block >= 0 ? block : null;
  } catch {
    return null;
  }
}

export function watchLedgerFlows(options: LedgerChainOptions): LedgerChainWatcher {
  const { provider, ledger } = options;
  const chunk = options.chunkBlocks ?? 2000;
  const readings = options.meterReadings
    ? MeterReadings__factory.connect(options.meterReadings, provider)
    : null;
  const market = options.energyMarket ? EnergyMarket__factory.connect(options.energyMarket, provider) : null;
  const ours = new Map<string, boolean>();
  const blockTimes = new Map<number, Date>();
  let last = readCursor(options.cursorFile);
  let running: Promise<void> | null = null;

  const timeOf = async (blockNumber: number): Promise<Date> => {
    const known = blockTimes.get(blockNumber);
    if (known) return known;
    const block = await provider.getBlock(blockNumber);
    const at = new Date(Number(block?.timestamp ?? 0) * 1000);
    blockTimes.set(blockNumber, at);
    if (blockTimes.size > 1000) blockTimes.delete(blockTimes.keys().next().value!);
    return at;
  };
  const isOurOffer = async (offerId: bigint): Promise<boolean> => {
    const key = offerId.toString();
    let mine = ours.get(key);
    if (mine === undefined) {
      const offer = await market!.offerOf(offerId);
      mine = offer.sellerDeviceId.toLowerCase() === options.deviceId.toLowerCase();
      ours.set(key, mine);
    }
    return mine;
  };

  async function read(from: number, to: number): Promise<void> {
    if (readings) {
      const logs = await readings.queryFilter(readings.filters.RewardsClaimed(options.deviceId), from, to);
      for (const log of logs)
        await ledger.addErgon(
          'reward',
          log.args.amount,
          await timeOf(log.blockNumber),
          `${log.transactionHash}:${log.index}`,
        );
    }
    if (market) {
      const logs = await market.queryFilter(market.filters.OfferSettled(), from, to);
      for (const log of logs)
        if (log.args.paid > 0n && (await isOurOffer(log.args.offerId)))
          await ledger.addErgon(
            'market',
            log.args.paid,
            await timeOf(log.blockNumber),
            `${log.transactionHash}:${log.index}`,
          );
    }
  }

  async function pollOnce(): Promise<void> {
    const head = await provider.getBlockNumber();
    // First start: from the head on (what moved before this HEPEK ran is not its dashboard's).
    if (last === null) {
      last = head;
      writeFileSync(options.cursorFile, `${JSON.stringify({ block: last })}\n`);
      return;
    }
    let from = last + 1;
    while (from <= head) {
      const to = Math.min(head, from + chunk - 1);
      await read(from, to);
      last = to;
      writeFileSync(options.cursorFile, `${JSON.stringify({ block: last })}\n`);
      from = to + 1;
    }
  }

  return {
    poll() {
      // One poll at a time: a slow node must not make two read the same blocks at once.
      running ??= pollOnce().finally(() => (running = null));
      return running;
    },
    get lastBlock() {
      return last ?? -1;
    },
  };
}
