/** `hepek-market-buy`: takes open P2P offers that match a price limit and a delivery window. */
import { failInput, settingsOnce } from '../shared/errors';
import { configGateway, gatewayMarket } from '../shared/gateway';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import { buyCriteria, buyMessage, buyStatus, normaliseMarketBuyDef, selectTakes, type Bought } from './logic';

export = function (RED: NodeAPI): void {
  function HepekMarketBuyNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const settingsOf = settingsOnce(node, () => normaliseMarketBuyDef(def));

    node.on('input', async (msg, send, done) => {
      try {
        const settings = settingsOf();
        const { client, device } = gatewayMarket(configGateway(RED, def.config));
        const criteria = buyCriteria(msg, settings, await client.chainNow());
        const bought: Bought[] = [];
        for (const take of selectTakes(await client.openOffers(), criteria, device.address)) {
          // The buyer signs the exact Wh and the offer's price; the limit is checked again before signing.
          const { escrow } = await client.buy(device, take.offerId, take.wattHours, criteria.maxPricePerKWh);
          bought.push({
            offerId: Number(take.offerId),
            wattHours: Number(take.wattHours),
            escrow: escrow.toString(),
          });
        }
        node.status(buyStatus(bought));
        send(buyMessage(msg, bought));
        done();
      } catch (err) {
        failInput(node, err, done);
      }
    });
  }
  registerHepekType(RED, 'hepek-market-buy', HepekMarketBuyNode);
};
