/**
 * Gas of an EnergyMarket trade: list (owner-sent), buy (direct with an allowance, and relayed with
 * signed terms and a permit), proveDelivery, settle per buyer (a middle buyer, and the last one,
 * whose settlement ends the export hold and accrues the unsold rest), next to one plain ERGON
 * transfer, and the ratio of a buyer's share of a trade to that transfer:
 *
 *   tradeVsTransferRatio = (buy + proveDelivery / 3 + settle) / erc20Transfer
 *
 * Steady state: the second trade — the seller has listed, been proven and settled before, three
 * buyers each hold ERGON and have taken an offer before. First time: the first trade of a fresh
 * deployment — the device's first offer, hold and proof, each buyer's first take. In both the
 * market holds no other escrow when the first buyer takes.
 *
 *   npm run bench -- gas market
 */
import type { ContractTransactionResponse } from 'ethers';
import { NO_PERMIT, signPermit } from '../../gateway/chain/channels';
import { costOf, signBuy } from '../../gateway/market/sign';
import { now } from '../../test/helpers/ledger';
import {
  HOUR,
  PRICE,
  feed,
  marketFixture,
  mineAt,
  take,
  terms,
  type MarketFixture,
} from '../../test/helpers/market';
import type { GasRow } from './types';

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  if (!receipt || receipt.status !== 1) throw new Error('transaction failed');
  return Number(receipt.gasUsed);
}

interface Trade {
  list: number;
  buy: number;
  buyFor: number;
  prove: number;
  settle: number;
  settleLast: number;
}

/** One offer's life with three buyers; readings every 15 min at 250 Wh. */
async function trade(m: MarketFixture, t: { value: bigint }, exportWh: { value: bigint }): Promise<Trade> {
  const start = (await now(m)) + 2n * HOUR;
  const list = await gasOf(m.energy.connect(m.member).list(terms(m, start, { wattHours: 900n })));
  const offerId = await m.energy.offerCount();
  const [b0, b1, b2] = m.buyers.map((b) => b.key);
  const market = m.addresses.EnergyMarket!;
  for (const b of [b0!, b1!]) await (await m.token.connect(b).approve(market, 2n ** 200n)).wait();
  const buy = await gasOf(m.energy.connect(b0!).buy(offerId, 300n, b0!.address, PRICE, NO_PERMIT));
  await take(m, 1, offerId, 300n);
  // The HEPEK path: the buyer's device signs the terms and a permit; anyone relays.
  await (await m.token.connect(b2!).approve(market, 0n)).wait();
  const where = { chainId: 31337, market };
  const terms_ = {
    offerId,
    wattHours: 300n,
    buyerWallet: b2!.address,
    pricePerKWh: PRICE,
    nonce: await m.energy.buyNonces(b2!.address),
    deadline: start,
  };
  const sig = await signBuy(b2!, where, terms_);
  const permit = await signPermit(b2!, {
    chainId: 31337,
    token: m.addresses.ErgonToken!,
    owner: b2!.address,
    spender: market,
    value: costOf(300n, PRICE),
    nonce: await m.token.nonces(b2!.address),
    deadline: start,
  });
  const buyFor = await gasOf(m.energy.connect(m.relayer).buyFor(terms_, sig.r, sig.vs, permit));

  const readingAt = async (at: bigint) => {
    exportWh.value += 250n;
    t.value = at;
    return feed(m, at, exportWh.value);
  };
  const startSeq = await readingAt(start);
  let endSeq = startSeq;
  for (let q = 1n; q <= 4n; q++) endSeq = await readingAt(start + q * 900n);
  await mineAt(m, start + HOUR + 1n);
  const prove = await gasOf(m.energy.connect(m.relayer).proveDelivery(offerId, startSeq, endSeq));
  await (await m.energy.connect(m.relayer).settle(offerId, b0!.address)).wait();
  const settle = await gasOf(m.energy.connect(m.relayer).settle(offerId, b1!.address));
  const settleLast = await gasOf(m.energy.connect(m.relayer).settle(offerId, b2!.address));
  return { list, buy, buyFor, prove, settle, settleLast };
}

export async function measure(): Promise<GasRow[]> {
  const m = await marketFixture();
  try {
    // Baseline in the same run: one ERGON transfer between two wallets that already hold ERGON.
    const erc20Transfer = await gasOf(
      m.token.connect(m.buyers[0]!.key).transfer(m.buyers[1]!.key.address, 1n),
    );
    const t = { value: await now(m) };
    const exportWh = { value: 0n };
    await feed(m, t.value + 10n, 0n);
    const first = await trade(m, t, exportWh);
    const steady = await trade(m, t, exportWh);
    const ratio = (steady.buy + steady.prove / 3 + steady.settle) / erc20Transfer;
    return [
      { key: 'list', gas: steady.list, note: 'owner-sent; the device listed before' },
      { key: 'list', gas: first.list, firstTime: true, note: "the device's first offer" },
      { key: 'buy', gas: steady.buy, note: 'direct, existing allowance; escrow into the market' },
      { key: 'buy', gas: first.buy, firstTime: true, note: "the buyer's first take" },
      { key: 'buyForWithPermit', gas: steady.buyFor, note: 'relayed: buyer-signed terms + ERC-2612 permit' },
      { key: 'buyForWithPermit', gas: first.buyFor, firstTime: true },
      { key: 'proveDelivery', gas: steady.prove, note: 'two checkpoints, once per offer' },
      { key: 'proveDelivery', gas: first.prove, firstTime: true, note: "the device's first proof" },
      { key: 'settle', gas: steady.settle, note: 'per buyer: pay seller, refund rest, credits to buyer' },
      {
        key: 'settleLast',
        gas: steady.settleLast,
        note: 'last buyer: also ends the hold, accrues unsold Wh',
      },
      { key: 'marketErc20Transfer', gas: erc20Transfer, note: 'baseline, same run' },
      { key: 'tradeVsTransferRatio', gas: ratio, note: '(buy + proveDelivery/3 + settle) / erc20Transfer' },
    ];
  } finally {
    await m.chain.close();
  }
}
