/**
 * One way to reach a chain: the durable in-process dev chain by default, any JSON-RPC node when
 * `chain.rpcUrl` is set. Everything above this file sees an ethers Provider and nothing else.
 */
import { BrowserProvider, JsonRpcProvider, Network, WebSocketProvider, type AbstractProvider } from 'ethers';
import type { Settings } from '../../settings';
import { DeviceUnavailableError } from '../errors';
import { EmbeddedChain } from './embedded';

export interface ChainConnection {
  readonly provider: AbstractProvider;
  readonly chainId: number;
  /** The in-process chain, or null on an external node. */
  readonly embedded: EmbeddedChain | null;
  readonly rpcUrl: string | null;
  /** Human-readable description for logs. */
  readonly label: string;
  close(): Promise<void>;
}

/** Asks an HTTP JSON-RPC endpoint for its chain id with a deadline, so a dead URL fails fast and clearly. */
export async function probeChainId(url: string, timeoutMs: number): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await response.json()) as { result?: string; error?: { message?: string } };
  if (typeof body.result !== 'string')
    throw new Error(body.error?.message ?? `unexpected answer ${JSON.stringify(body)}`);
  return Number(BigInt(body.result));
}

/**
 * An HTTP JSON-RPC provider for `url` on the chain id the node reports (fixed, no re-detection), or
 * a DeviceUnavailableError naming `field` (a setting or a CLI flag) when the node does not answer.
 */
export async function openJsonRpc(
  url: string,
  field: string,
  pollingInterval = 1000,
  timeoutMs = 10_000,
): Promise<{ provider: JsonRpcProvider; chainId: number }> {
  let chainId: number;
  try {
    chainId = await probeChainId(url, timeoutMs);
  } catch (err) {
    throw unreachable(field, url, err);
  }
  const provider = new JsonRpcProvider(url, chainId, {
    staticNetwork: Network.from(chainId),
    pollingInterval,
    cacheTimeout: -1,
  });
  return { provider, chainId };
}

function unreachable(field: string, url: string, err: unknown): DeviceUnavailableError {
  return new DeviceUnavailableError(
    field,
    `no JSON-RPC answer from ${url} (${(err as Error).message}); start the node or fix the URL`,
    { cause: err },
  );
}

export async function connectChain(
  chain: Settings['chain'],
  journalDir: string | null,
  log: (line: string) => void,
  timeoutMs = 10_000,
): Promise<ChainConnection> {
  if (chain.rpcUrl === null) {
    const embedded = await EmbeddedChain.open({
      dir: journalDir,
      chainId: chain.chainId,
      hardfork: chain.hardfork,
      log,
    });
    const provider = new BrowserProvider(embedded, chain.chainId, {
      polling: true,
      pollingInterval: 500,
      cacheTimeout: -1,
    });
    return {
      provider,
      chainId: chain.chainId,
      embedded,
      rpcUrl: null,
      label: `in-process dev chain (chain id ${chain.chainId}, ${chain.hardfork})`,
      async close() {
        provider.destroy();
        await embedded.close();
      },
    };
  }
  const url = chain.rpcUrl;
  let chainId: number;
  let provider: AbstractProvider;
  try {
    if (url.startsWith('ws')) {
      const ws = new WebSocketProvider(url);
      chainId = Number((await Promise.race([ws.getNetwork(), timeout(timeoutMs)])).chainId);
      provider = ws;
    } else {
      ({ provider, chainId } = await openJsonRpc(url, 'chain.rpcUrl', 1000, timeoutMs));
    }
  } catch (err) {
    if (err instanceof DeviceUnavailableError) throw err;
    throw unreachable('chain.rpcUrl', url, err);
  }
  return {
    provider,
    chainId,
    embedded: null,
    rpcUrl: url,
    label: `JSON-RPC node ${url} (chain id ${chainId})`,
    async close() {
      provider.destroy();
    },
  };
}

function timeout(ms: number): Promise<never> {
  return new Promise((_, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    timer.unref();
  });
}
