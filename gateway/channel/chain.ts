/** The payer's chain reads (PayerChain) over the deployed PaymentChannels and ErgonToken. */
import type { Provider } from 'ethers';
import { readOpenChannel } from '../chain/channels';
import { ErgonToken__factory, PaymentChannels__factory } from '../chain/types';
import type { PayerChain } from './payer';

export function payerChain(
  provider: Provider,
  addresses: { channels: string; token: string },
  payer: string,
  nowS: () => number = () => Math.floor(Date.now() / 1000),
): PayerChain {
  const channels = PaymentChannels__factory.connect(addresses.channels, provider);
  const token = ErgonToken__factory.connect(addresses.token, provider);
  return {
    async openChannel() {
      const info = await readOpenChannel(channels, payer);
      return info ? { channelId: info.channelId, deposit: info.deposit, exitAt: info.exitAt } : null;
    },
    walletWei: () => token.balanceOf(payer),
    channelNonce: () => channels.nonces(payer),
    permitNonce: () => token.nonces(payer),
    nowS,
  };
}
