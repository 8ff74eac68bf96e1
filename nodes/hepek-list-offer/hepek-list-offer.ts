/** `hepek-list-offer`: lists this device's export on the P2P market (or cancels an offer's rest). */
import type { OfferView } from '../../gateway/market/client';
import { failInput, settingsOnce } from '../shared/errors';
import { configGateway, gatewayMarket } from '../shared/gateway';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import { listMessage, listStatus, normaliseListOfferDef, parseListMessage } from './logic';

export = function (RED: NodeAPI): void {
  function HepekListOfferNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const settingsOf = settingsOnce(node, () => normaliseListOfferDef(def));

    node.on('input', async (msg, send, done) => {
      try {
        const settings = settingsOf();
        const { client, device, deviceId } = gatewayMarket(configGateway(RED, def.config));
        const nowS = await client.chainNow();
        const toleranceS = await client.market.TOLERANCE();
        const ownWindows = (await client.allOffers())
          .filter((o) => o.sellerDeviceId === deviceId && o.wattHours > 0 && BigInt(o.deliveryEnd) > nowS)
          .map((o) => ({ start: BigInt(o.deliveryStart), end: BigInt(o.deliveryEnd) }));
        const command = parseListMessage(msg, settings, { nowS, toleranceS, ownWindows });
        let result: { listed: OfferView[]; skipped: string[]; cancelled?: number };
        if (command.kind === 'cancel') {
          await client.cancel(device, deviceId, command.offerId);
          result = { listed: [], skipped: [], cancelled: Number(command.offerId) };
        } else {
          const listed: OfferView[] = [];
          for (const request of command.offers)
            listed.push(await client.offer(await client.list(device, deviceId, request)));
          result = { listed, skipped: command.skipped };
        }
        node.status(listStatus(result));
        send(listMessage(msg, result));
        done();
      } catch (err) {
        failInput(node, err, done);
      }
    });
  }
  registerHepekType(RED, 'hepek-list-offer', HepekListOfferNode);
};
