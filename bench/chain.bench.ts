/**
 * What durability costs: ERGON transfers per second on the journaled in-process dev chain versus
 * the same chain without a journal (the baseline, measured in the same run), and how fast a
 * restart replays the journal.
 *
 *   npm run bench -- chain [transfers]      (default 300 transfers)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BrowserProvider, parseEther, Wallet } from 'ethers';
import { EmbeddedChain } from '../gateway/chain/embedded';
import { ErgonToken__factory } from '../gateway/chain/types';
import { report } from './report';

const transfers = Number(process.argv[2] ?? 300);

async function run(dir: string | null): Promise<{ perSec: number; blocks: number }> {
  const chain = await EmbeddedChain.open({ dir, chainId: 31337, hardfork: 'cancun' });
  const provider = new BrowserProvider(chain, 31337, { cacheTimeout: -1 });
  const admin = new Wallet('0x' + '11'.repeat(32), provider);
  await chain.request({
    method: 'hardhat_setBalance',
    params: [admin.address, `0x${parseEther('1000').toString(16)}`],
  });
  const token = await new ErgonToken__factory(admin).deploy(admin.address);
  await token.waitForDeployment();
  await (await token.grantRole(await token.MINTER_ROLE(), admin.address)).wait();
  await (await token.mint(admin.address, parseEther('1000000'))).wait();
  const to = Wallet.createRandom().address;
  let nonce = await provider.getTransactionCount(admin.address);
  const started = process.hrtime.bigint();
  for (let i = 0; i < transfers; i++) {
    // Fixed gas and nonce: measure the chain and its journal, not ethers' estimation round trips.
    await (await token.transfer(to, 1n, { nonce: nonce++, gasLimit: 80_000 })).wait();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const blocks = chain.blockNumber;
  provider.destroy();
  await chain.close();
  return { perSec: transfers / seconds, blocks };
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hepek-bench-chain-'));
  try {
    const baseline = await run(null);
    const journaled = await run(dir);
    const t = process.hrtime.bigint();
    const reopened = await EmbeddedChain.open({ dir, chainId: 31337, hardfork: 'cancun' });
    const replaySeconds = Number(process.hrtime.bigint() - t) / 1e9;
    await reopened.close();
    const replayBlocksPerSec = journaled.blocks / replaySeconds;
    report(
      'chain',
      [
        ['transfers per run', String(transfers)],
        ['baseline (no journal), transfers/s', baseline.perSec.toFixed(1)],
        ['journaled (fsync per block), transfers/s', journaled.perSec.toFixed(1)],
        ['journaled / baseline', (journaled.perSec / baseline.perSec).toFixed(3)],
        ['replay at restart, blocks/s', replayBlocksPerSec.toFixed(1)],
        ['replay / live journaled rate', (replayBlocksPerSec / journaled.perSec).toFixed(2)],
      ],
      {
        transfers,
        baselineTransfersPerSec: baseline.perSec,
        journaledTransfersPerSec: journaled.perSec,
        journaledToBaselineRatio: journaled.perSec / baseline.perSec,
        replayBlocksPerSec,
        replayToLiveRatio: replayBlocksPerSec / journaled.perSec,
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
