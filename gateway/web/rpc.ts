/** Sends one JSON-RPC request to the gateway's chain. */
export type RpcSend = (method: string, params: unknown[]) => Promise<unknown>;

/** A JSON-RPC / EIP-1193 error with its numeric code. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/**
 * Methods the read-only proxy forwards: reads, plus `eth_sendRawTransaction` (a transaction the
 * caller signed itself costs the gateway nothing and needs no key here). Anything that would use
 * a key on the node (eth_sendTransaction, eth_sign, personal_*) or change it (hardhat_*, evm_*,
 * debug_*) is refused, so a browser wallet may use this URL as its RPC for the dev chain.
 */
export const READ_METHODS = [
  'eth_blockNumber',
  'eth_call',
  'eth_chainId',
  'eth_estimateGas',
  'eth_feeHistory',
  'eth_gasPrice',
  'eth_getBalance',
  'eth_getBlockByHash',
  'eth_getBlockByNumber',
  'eth_getCode',
  'eth_getLogs',
  'eth_getStorageAt',
  'eth_getTransactionByHash',
  'eth_getTransactionCount',
  'eth_getTransactionReceipt',
  'eth_maxPriorityFeePerGas',
  'eth_sendRawTransaction',
  'net_version',
  'web3_clientVersion',
] as const;

const ALLOWED = new Set<string>(READ_METHODS);

/** EIP-1193 code 4200: the method is not supported. */
export const UNSUPPORTED_METHOD = 4200;

export function createRpcProxy(send: RpcSend): (method: string, params: unknown[]) => Promise<unknown> {
  return async (method, params) => {
    if (!ALLOWED.has(method))
      throw new RpcError(
        UNSUPPORTED_METHOD,
        `method: ${JSON.stringify(method)} is not allowed; expected one of ${READ_METHODS.join(', ')}`,
      );
    return forward(send, method, params);
  };
}

/** Forwards a call, turning the node's error into a JSON-RPC error with its code and one-line message. */
export async function forward(send: RpcSend, method: string, params: unknown[]): Promise<unknown> {
  try {
    return await send(method, params);
  } catch (err) {
    throw toRpcError(err);
  }
}

/** The node's error as a JSON-RPC error: its code and one-line message, not ethers' whole request dump. */
export function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  {
    const e = err as {
      code?: unknown;
      data?: unknown;
      shortMessage?: unknown;
      message?: string;
      error?: unknown;
    };
    // ethers wraps node errors: the original {code, message, data} sits in `error` or `info.error`.
    const inner = (e.error ?? (err as { info?: { error?: unknown } }).info?.error) as
      { code?: unknown; message?: unknown; data?: unknown } | undefined;
    const code = typeof inner?.code === 'number' ? inner.code : typeof e.code === 'number' ? e.code : -32603;
    const message =
      typeof inner?.message === 'string'
        ? inner.message
        : typeof e.shortMessage === 'string'
          ? e.shortMessage
          : (e.message ?? String(err));
    return new RpcError(code, message, inner?.data ?? e.data);
  }
}
