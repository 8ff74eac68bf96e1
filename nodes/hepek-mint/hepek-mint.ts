/**
 * `hepek-mint`: signs a reading of the counters with the device key and sends it to the hub, which
 * relays it to MeterReadings (export rewards and carbon credits accrue there); reports what has
 * accrued; claims it to the HEPEK wallet on `claim`.
 */
import { ConfigError } from '../../gateway/errors';
import { failInput } from '../shared/errors';
import { configGateway, moneyOf } from '../shared/gateway';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import { mintMessage, mintStatus, parseMintInput } from './logic';

export = function (RED: NodeAPI): void {
  function HepekMintNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;

    node.on('input', async (msg, send, done) => {
      try {
        let input = parseMintInput(msg);
        const gateway = configGateway(RED, def.config);
        const money = moneyOf(gateway);
        if (input.kind === 'latest') {
          const latest = gateway.meter.latest();
          if (!latest) throw new Error('the meter has sent no reading yet: nothing to sign');
          input = parseMintInput({ payload: latest });
        }
        let extra: Parameters<typeof mintMessage>[2] = {};
        if (input.kind === 'claim') extra = { claim: await money.claim() };
        else if (input.kind === 'reading') {
          if (!money.payer)
            throw new ConfigError(
              'channel.enabled',
              false,
              'true on the gateway: readings go to the hub with the payer, and without it there is nothing to submit to',
            );
          const sent = await money.payer.submitReading({
            importWh: input.importWh,
            exportWh: input.exportWh,
            timestampS: input.timeS ?? money.nowS(),
            batteryPermille: input.batteryPermille,
          });
          extra = { reading: { id: sent.id, seq: sent.reading.seq, exportWh: sent.reading.exportWh } };
        }
        // What has accrued on chain so far (a reading just sent counts once the hub relayed it).
        const account = await money.rewards();
        const status = mintStatus(account);
        node.status({
          fill: status.fill,
          shape: status.shape,
          text: RED._('hepek-mint.status.accrued', { ergon: status.ergon, kg: status.kg }),
        });
        send(mintMessage(msg, account, extra));
        done();
      } catch (err) {
        failInput(node, err, done);
      }
    });
  }
  registerHepekType(RED, 'hepek-mint', HepekMintNode);
};
