/**
 * The in-process EVM dev chain (Hardhat 2's network provider, EDR inside), made durable.
 *
 * The provider keeps its state in memory only. To survive restarts every state-changing call is
 * journaled before its result is returned — each mined block with its timestamp, its raw signed
 * transactions and its state root, and each state-setting RPC (e.g. `hardhat_setBalance`) — and the
 * journal is replayed at boot on a chain created with the same genesis (chain id, hardfork, genesis
 * time, gas limit, base fee, which are persisted too). Every replayed block's state root is
 * compared with the journaled one, so a journal that no longer reproduces the chain is refused
 * instead of silently producing a different one.
 */
import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { keccak256 } from 'ethers';
import { StateError } from '../errors';

export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] | Record<string, unknown> }): Promise<unknown>;
}

export interface Genesis {
  chainId: number;
  hardfork: string;
  /** Unix seconds of the genesis block. */
  genesisTime: number;
  blockGasLimit: number;
  initialBaseFeePerGas: number;
}

export type JournalEntry =
  | { t: 'rpc'; method: string; params: unknown[] }
  | { t: 'block'; n: number; ts: number; txs: string[]; root: string };

export interface EmbeddedChainOptions {
  /** Folder for genesis.json and journal.jsonl; null keeps nothing (tests, benchmarks). */
  dir: string | null;
  chainId: number;
  hardfork: string;
  /** Wall clock, ms. */
  now?: () => number;
  log?: (line: string) => void;
}

/** Calls that change state without mining; replayed in order. */
const JOURNALED_RPC = new Set([
  'hardhat_setBalance',
  'hardhat_setCode',
  'hardhat_setNonce',
  'hardhat_setStorageAt',
]);
/** Calls that may mine blocks. */
const MINING = new Set(['eth_sendRawTransaction', 'evm_mine', 'hardhat_mine']);
/** Calls whose effect the journal cannot reproduce. */
const REFUSED = new Set([
  'eth_sendTransaction',
  'evm_snapshot',
  'evm_revert',
  'hardhat_reset',
  'hardhat_impersonateAccount',
  'hardhat_dropTransaction',
  'evm_setAutomine',
  'evm_setIntervalMining',
]);

interface RpcBlock {
  number: string;
  timestamp: string;
  stateRoot: string;
  hash: string;
  transactions: string[];
}

/** The bare in-process Hardhat network (no journal): for benchmarks that bulk-load a chain. */
export async function createHardhatProvider(genesis: Genesis): Promise<Eip1193Provider> {
  // Hardhat is an optional dependency: users who install the nodes into their own Node-RED point
  // hepek-config at a JSON-RPC node and never load it.
  let providerModule: typeof import('hardhat/internal/hardhat-network/provider/provider.js');
  let defaults: typeof import('hardhat/internal/core/config/default-config.js');
  try {
    providerModule = await import('hardhat/internal/hardhat-network/provider/provider.js');
    defaults = await import('hardhat/internal/core/config/default-config.js');
  } catch (err) {
    throw new StateError(
      'chain.rpcUrl',
      'the in-process dev chain needs the optional dependency hardhat@2 (npm install hardhat@2), or set chain.rpcUrl to a JSON-RPC node',
      { cause: err },
    );
  }
  return providerModule.createHardhatNetworkProvider(
    {
      hardfork: genesis.hardfork,
      chainId: genesis.chainId,
      networkId: genesis.chainId,
      blockGasLimit: genesis.blockGasLimit,
      minGasPrice: 0n,
      automine: true,
      intervalMining: 0,
      mempoolOrder: 'priority',
      chains: defaults.defaultHardhatNetworkParams.chains,
      genesisAccounts: [],
      allowUnlimitedContractSize: false,
      throwOnTransactionFailures: true,
      throwOnCallFailures: true,
      allowBlocksWithSameTimestamp: false,
      initialBaseFeePerGas: genesis.initialBaseFeePerGas,
      initialDate: new Date(genesis.genesisTime * 1000),
      enableTransientStorage: false,
      enableRip7212: false,
    },
    { enabled: false },
  ) as Promise<Eip1193Provider>;
}

/** Appends one JSON line and fsyncs, so an acknowledged transaction survives a crash. */
class Journal {
  constructor(readonly file: string) {}

  append(entry: JournalEntry): void {
    appendFileSync(this.file, `${JSON.stringify(entry)}\n`);
    const fd = openSync(this.file, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Reads all entries. A torn last line (crash mid-write) is dropped; a bad line elsewhere is an error. */
  read(log: (line: string) => void): JournalEntry[] {
    if (!existsSync(this.file)) return [];
    const text = readFileSync(this.file, 'utf8');
    const lines = text.split('\n');
    const entries: JournalEntry[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.trim() === '') continue;
      try {
        entries.push(JSON.parse(line) as JournalEntry);
      } catch (err) {
        const isLast = lines.slice(i + 1).every((rest) => rest.trim() === '');
        if (!isLast) throw new StateError(this.file, `line ${i + 1} is not valid JSON`, { cause: err });
        log(`chain journal: dropping a torn last line (${line.length} bytes) left by an interrupted write`);
        writeFileSync(this.file, lines.slice(0, i).join('\n') + (i > 0 ? '\n' : ''));
      }
    }
    return entries;
  }
}

export class EmbeddedChain implements Eip1193Provider {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly pendingRaw = new Map<string, string>();
  private lastBlock = 0;
  private closed = false;

  private constructor(
    private readonly inner: Eip1193Provider,
    readonly genesis: Genesis,
    private readonly journal: Journal | null,
  ) {}

  /** Opens (and on first use creates) the dev chain, replaying its journal. */
  static async open(options: EmbeddedChainOptions): Promise<EmbeddedChain> {
    const now = options.now ?? Date.now;
    const log = options.log ?? (() => {});
    let genesis: Genesis = {
      chainId: options.chainId,
      hardfork: options.hardfork,
      genesisTime: Math.floor(now() / 1000),
      blockGasLimit: 30_000_000,
      initialBaseFeePerGas: 1_000_000_000,
    };
    let journal: Journal | null = null;
    let entries: JournalEntry[] = [];
    if (options.dir) {
      mkdirSync(options.dir, { recursive: true, mode: 0o700 });
      const genesisFile = path.join(options.dir, 'genesis.json');
      journal = new Journal(path.join(options.dir, 'journal.jsonl'));
      if (existsSync(genesisFile)) {
        try {
          genesis = JSON.parse(readFileSync(genesisFile, 'utf8')) as Genesis;
        } catch (err) {
          throw new StateError(genesisFile, 'is not valid JSON', { cause: err });
        }
        if (genesis.chainId !== options.chainId || genesis.hardfork !== options.hardfork)
          throw new StateError(
            genesisFile,
            `the dev chain here was created with chainId ${genesis.chainId} and hardfork ${genesis.hardfork}, but settings ask for chainId ${options.chainId} and hardfork ${options.hardfork}; restore those settings or move ${options.dir} aside to start a new chain`,
          );
        entries = journal.read(log);
      } else {
        writeFileSync(genesisFile, `${JSON.stringify(genesis, null, 2)}\n`, { mode: 0o600 });
      }
    }
    const chain = new EmbeddedChain(await createHardhatProvider(genesis), genesis, journal);
    if (entries.length > 0) {
      const started = Date.now();
      await chain.replay(entries);
      log(
        `chain journal: replayed ${entries.length} entries to block ${chain.lastBlock} in ${Date.now() - started} ms`,
      );
    }
    if (options.dir && chain.lastBlock > 0) {
      // Replayed blocks carry old timestamps and Hardhat continues its clock from the last one;
      // mine one block at the wall-clock time so new blocks are stamped with the real time again.
      const ts = Math.max(Math.floor(now() / 1000), (await chain.latestTimestamp()) + 1);
      await chain.request({ method: 'evm_mine', params: [ts] });
    }
    return chain;
  }

  get blockNumber(): number {
    return this.lastBlock;
  }

  async request(args: { method: string; params?: unknown[] | Record<string, unknown> }): Promise<unknown> {
    if (this.closed) throw new StateError('chain', `the dev chain is closed; ${args.method} was not sent`);
    if (this.journal && REFUSED.has(args.method))
      throw new StateError(
        'chain',
        `${args.method} cannot be reproduced by the durable dev chain's journal; send signed raw transactions (eth_sendRawTransaction) instead`,
      );
    if (!MINING.has(args.method) && !JOURNALED_RPC.has(args.method)) return this.inner.request(args);
    // State changes are serialised so each call's blocks are journaled before the next begins.
    const run = this.queue.then(() => this.stateChange(args));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async stateChange(args: {
    method: string;
    params?: unknown[] | Record<string, unknown>;
  }): Promise<unknown> {
    const params = (Array.isArray(args.params) ? args.params : []) as unknown[];
    if (args.method === 'eth_sendRawTransaction' && typeof params[0] === 'string') {
      this.pendingRaw.set(keccak256(params[0]).toLowerCase(), params[0]);
    }
    try {
      const result = await this.inner.request(args);
      if (JOURNALED_RPC.has(args.method)) this.journal?.append({ t: 'rpc', method: args.method, params });
      return result;
    } finally {
      // A reverted transaction is still mined (and the provider throws); journal it either way.
      await this.recordNewBlocks();
      this.pendingRaw.clear();
    }
  }

  private async recordNewBlocks(): Promise<void> {
    const latest = Number(await this.inner.request({ method: 'eth_blockNumber', params: [] }));
    for (let n = this.lastBlock + 1; n <= latest; n++) {
      const block = (await this.inner.request({
        method: 'eth_getBlockByNumber',
        params: [`0x${n.toString(16)}`, false],
      })) as RpcBlock;
      const txs = block.transactions.map((hash) => {
        const raw = this.pendingRaw.get(hash.toLowerCase());
        if (!raw)
          throw new StateError(
            'chain',
            `block ${n} holds transaction ${hash} that was not sent as a raw transaction`,
          );
        this.pendingRaw.delete(hash.toLowerCase());
        return raw;
      });
      this.journal?.append({ t: 'block', n, ts: Number(block.timestamp), txs, root: block.stateRoot });
      this.lastBlock = n;
    }
  }

  private async latestTimestamp(): Promise<number> {
    const block = (await this.inner.request({
      method: 'eth_getBlockByNumber',
      params: ['latest', false],
    })) as RpcBlock;
    return Number(block.timestamp);
  }

  private async replay(entries: JournalEntry[]): Promise<void> {
    for (const entry of entries) {
      if (entry.t === 'rpc') {
        await this.inner.request({ method: entry.method, params: entry.params });
        continue;
      }
      if (entry.txs.length === 0) {
        await this.inner.request({ method: 'evm_mine', params: [entry.ts] });
      } else {
        await this.inner.request({ method: 'evm_setNextBlockTimestamp', params: [entry.ts] });
        for (const raw of entry.txs) {
          try {
            await this.inner.request({ method: 'eth_sendRawTransaction', params: [raw] });
          } catch {
            // It reverted the first time too; the state root check below is what matters.
          }
        }
      }
      const block = (await this.inner.request({
        method: 'eth_getBlockByNumber',
        params: ['latest', false],
      })) as RpcBlock;
      const number = Number(block.number);
      if (number !== entry.n || block.stateRoot !== entry.root)
        throw new StateError(
          this.journal!.file,
          `replay diverged at block ${entry.n}: journal says state root ${entry.root}, replay gave block ${number} with ${block.stateRoot}; the journal does not belong to this chain or was edited — move the chain folder aside to start a new dev chain`,
        );
      this.lastBlock = number;
    }
  }

  /** Waits for queued state changes; afterwards every request is refused. */
  async close(): Promise<void> {
    await this.queue;
    this.closed = true;
  }
}
