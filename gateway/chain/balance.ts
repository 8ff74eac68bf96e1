/**
 * The spendable balance of a HEPEK wallet, read from the chain.
 *
 * Spendable = ERGON held by the wallet + the unspent part of its open payment channel (deposit −
 * the newest voucher the hub acknowledged, from the payer in gateway/channel/; 0 without one).
 */
import { Contract, formatUnits, isAddress, type Provider } from 'ethers';
import type { BalanceSource, SpendableBalance } from '../context';
import { ConfigError, DeviceUnavailableError } from '../errors';

/** Only what we call; a human-readable fragment keeps this independent of generated bindings. */
const ERC20_BALANCE_ABI = ['function balanceOf(address owner) view returns (uint256)'];

export interface BalanceSourceOptions {
  /** How the RPC is named in errors, e.g. its URL. Default `chain RPC`. */
  rpc?: string;
  /**
   * Give up on one read after this long, ms. ethers keeps retrying an RPC it has never reached,
   * so without a bound a read from a dead URL would never settle. Default 10000; 0 = no bound.
   */
  timeoutMs?: number;
  /** The unspent, acknowledged part of the open payment channel, wei (the payer's; 0 without one). */
  channelUnspentWei?: () => bigint | Promise<bigint>;
}

export function createTokenBalanceSource(
  provider: Provider,
  tokenAddress: string,
  wallet: string,
  options: BalanceSourceOptions = {},
): BalanceSource {
  if (!isAddress(tokenAddress))
    throw new ConfigError('tokenAddress', tokenAddress, 'a 0x-prefixed 20-byte address');
  if (!isAddress(wallet)) throw new ConfigError('wallet', wallet, 'a 0x-prefixed 20-byte address');
  const rpc = options.rpc ?? 'chain RPC';
  const timeoutMs = options.timeoutMs ?? 10_000;
  const token = new Contract(tokenAddress, ERC20_BALANCE_ABI, provider);

  async function readOnce(): Promise<SpendableBalance> {
    // One block number for both values, so the balance is the one at the block we report.
    const blockNumber = await provider.getBlockNumber();
    const ergon = (await token.balanceOf(wallet, { blockTag: blockNumber })) as bigint;
    const channelUnspent = (await options.channelUnspentWei?.()) ?? 0n;
    const spendable = ergon + channelUnspent;
    return {
      wallet,
      ergonWei: ergon.toString(),
      channelUnspentWei: channelUnspent.toString(),
      spendableWei: spendable.toString(),
      spendableErgon: Number(formatUnits(spendable, 18)),
      blockNumber,
    };
  }

  return {
    async read(): Promise<SpendableBalance> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        if (timeoutMs <= 0) return await readOnce();
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        });
        const work = readOnce();
        // If the timeout wins, the read may still fail later; that must not be an unhandled rejection.
        work.catch(() => undefined);
        return await Promise.race([work, timeout]);
      } catch (err) {
        // ethers errors carry a one-line shortMessage; their message embeds the whole request.
        const short = (err as { shortMessage?: unknown } | null)?.shortMessage;
        const detail = typeof short === 'string' ? short : err instanceof Error ? err.message : String(err);
        throw new DeviceUnavailableError(rpc, `cannot read the ERGON balance of ${wallet}: ${detail}`, {
          cause: err,
        });
      } finally {
        if (timer) clearTimeout(timer);
      }
    },
  };
}
