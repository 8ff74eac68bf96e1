/** `hepek-channel-sign`: signs the channel voucher for a consumption and outputs it. */
import { ConfigError } from '../../gateway/errors';
import { failInput } from '../shared/errors';
import { configGateway, moneyOf } from '../shared/gateway';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import { parseConsumption, voucherMessage, voucherStatus } from './logic';

export = function (RED: NodeAPI): void {
  function HepekChannelSignNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;

    node.on('input', async (msg, send, done) => {
      try {
        const consumption = parseConsumption(msg.payload);
        const money = moneyOf(configGateway(RED, def.config));
        const payer = money.payer;
        if (!payer)
          throw new ConfigError(
            'channel.enabled',
            false,
            'true on the gateway: without a channel there is nothing to sign',
          );
        const before = BigInt(payer.state().cumulativeAmountWei);
        const voucher = await payer.billNow(consumption.importWh, consumption.timeS ?? money.nowS());
        if (!voucher) {
          // No channel or no tariff yet: say so, send nothing.
          const why = payer.state().lastError ?? 'the channel is not open yet';
          node.status({ fill: 'yellow', shape: 'ring', text: RED._('hepek-channel-sign.status.waiting') });
          node.warn(why);
          return done();
        }
        const newest = payer.newestVoucher();
        const report = {
          voucher,
          addedWei: BigInt(voucher.cumulativeAmount) - before,
          acked: newest?.voucher.id === voucher.id && newest.acked,
        };
        const status = voucherStatus(report);
        node.status({
          fill: status.fill,
          shape: status.shape,
          text: RED._(`hepek-channel-sign.${status.key}`, { ergon: status.ergon }),
        });
        send(voucherMessage(msg, report));
        done();
      } catch (err) {
        failInput(node, err, done);
      }
    });
  }
  registerHepekType(RED, 'hepek-channel-sign', HepekChannelSignNode);
};
