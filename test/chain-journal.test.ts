/**
 * The durable in-process dev chain: what was mined before a restart is there after it, old
 * timestamps replay, new blocks get the wall-clock time again, and a journal that no longer
 * reproduces the chain (edited, foreign, torn) is handled as the file says.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BrowserProvider, parseEther, Wallet } from 'ethers';
import { EmbeddedChain } from '../gateway/chain/embedded';
import { StateError } from '../gateway/errors';
import { testKey } from './helpers/chain';
import { removeDir, tempDir } from './helpers/gateway';

const journal = suite<{ dir: string; chains: EmbeddedChain[] }>('durable dev chain');

journal.before.each((ctx) => {
  ctx.dir = tempDir('chain');
  ctx.chains = [];
});
journal.after.each(async (ctx) => {
  for (const chain of ctx.chains) await chain.close();
  removeDir(ctx.dir);
});

async function open(ctx: { dir: string; chains: EmbeddedChain[] }, now?: () => number) {
  const chain = await EmbeddedChain.open({
    dir: ctx.dir,
    chainId: 31337,
    hardfork: 'cancun',
    ...(now ? { now } : {}),
  });
  ctx.chains.push(chain);
  const provider = new BrowserProvider(chain, 31337, { cacheTimeout: -1 });
  return { chain, provider };
}

const alice = new Wallet(testKey('journal-alice'));
const bob = new Wallet(testKey('journal-bob')).address;

async function fundAndPay(chain: EmbeddedChain, provider: BrowserProvider) {
  await chain.request({
    method: 'hardhat_setBalance',
    params: [alice.address, `0x${parseEther('5').toString(16)}`],
  });
  const signer = alice.connect(provider);
  await (await signer.sendTransaction({ to: bob, value: parseEther('1.5') })).wait();
}

journal('a transfer made before a restart is there after it, with its block and state root', async (ctx) => {
  const first = await open(ctx);
  await fundAndPay(first.chain, first.provider);
  const blockBefore = await first.provider.getBlock('latest');
  await first.chain.close();

  const second = await open(ctx);
  assert.is(await second.provider.getBalance(bob), parseEther('1.5'));
  const replayed = await second.provider.getBlock(blockBefore!.number);
  assert.is(replayed!.hash, blockBefore!.hash, 'identical block hash after replay');
  assert.is(replayed!.timestamp, blockBefore!.timestamp);
});

journal('after a restart new blocks carry the wall-clock time, not the replayed clock', async (ctx) => {
  const start = Date.now() - 3 * 86_400_000; // the chain was created three days ago
  const first = await open(ctx, () => start);
  await fundAndPay(first.chain, first.provider);
  await first.chain.close();

  const second = await open(ctx);
  const signer = alice.connect(second.provider);
  const receipt = await (await signer.sendTransaction({ to: bob, value: 1n })).wait();
  const block = await second.provider.getBlock(receipt!.blockNumber);
  assert.ok(Math.abs(block!.timestamp - Date.now() / 1000) < 30, `timestamp ${block!.timestamp} is now`);
});

journal('a reverted transaction is journaled too, so nonces and state line up after replay', async (ctx) => {
  const first = await open(ctx);
  await fundAndPay(first.chain, first.provider);
  const signer = alice.connect(first.provider);
  // Init code that deploys a contract whose code is PUSH1 0 PUSH1 0 REVERT: every call reverts.
  const deploy = await (await signer.sendTransaction({ data: '0x6460006000fd6000526005601bf3' })).wait();
  const reverter = deploy!.contractAddress!;
  // A fixed gas limit skips estimateGas, so the reverting call is really mined (and the provider throws).
  let reverted = false;
  try {
    await signer.sendTransaction({ to: reverter, data: '0x01', gasLimit: 100_000 });
  } catch {
    reverted = true;
  }
  assert.ok(reverted, 'the call reverted');
  const nonce = await first.provider.getTransactionCount(alice.address);
  assert.is(nonce, 3, 'the reverted call used a nonce');
  const root = (await first.provider.send('eth_getBlockByNumber', ['latest', false])).stateRoot;
  await first.chain.close();
  const second = await open(ctx);
  assert.is(await second.provider.getTransactionCount(alice.address), nonce);
  const replayedBlock = await second.provider.send('eth_getBlockByNumber', [
    `0x${(second.chain.blockNumber - 1).toString(16)}`,
    false,
  ]);
  assert.is(replayedBlock.stateRoot, root);
});

journal('an edited journal is refused with the block where replay diverged', async (ctx) => {
  const first = await open(ctx);
  await fundAndPay(first.chain, first.provider);
  await first.chain.close();
  const file = path.join(ctx.dir, 'journal.jsonl');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const last = JSON.parse(lines.at(-1)!);
  last.root = `0x${'ab'.repeat(32)}`;
  lines[lines.length - 1] = JSON.stringify(last);
  writeFileSync(file, `${lines.join('\n')}\n`);
  try {
    await open(ctx);
    assert.unreachable('replay should refuse');
  } catch (err) {
    assert.instance(err, StateError);
    assert.match((err as Error).message, new RegExp(`replay diverged at block ${last.n}`));
  }
});

journal('a torn last line (crash mid-write) is dropped; everything before it is kept', async (ctx) => {
  const first = await open(ctx);
  await fundAndPay(first.chain, first.provider);
  await first.chain.close();
  appendFileSync(path.join(ctx.dir, 'journal.jsonl'), '{"t":"block","n":9,"ts":');
  const second = await open(ctx);
  assert.is(await second.provider.getBalance(bob), parseEther('1.5'));
});

journal('a journal made with another chain id is refused, naming both', async (ctx) => {
  const first = await open(ctx);
  await first.chain.close();
  try {
    const other = await EmbeddedChain.open({ dir: ctx.dir, chainId: 1337, hardfork: 'cancun' });
    ctx.chains.push(other);
    assert.unreachable();
  } catch (err) {
    assert.instance(err, StateError);
    assert.match((err as Error).message, /created with chainId 31337 .* settings ask for chainId 1337/);
  }
});

journal('calls the journal cannot reproduce are refused', async (ctx) => {
  const { chain } = await open(ctx);
  for (const method of ['evm_snapshot', 'eth_sendTransaction', 'hardhat_reset']) {
    try {
      await chain.request({ method, params: [] });
      assert.unreachable(method);
    } catch (err) {
      assert.instance(err, StateError);
      assert.match((err as Error).message, method);
    }
  }
});

journal.run();
