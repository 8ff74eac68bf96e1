/** `hepek-balance`: reads the HEPEK wallet's spendable balance and turns it into a relay command. */
import { failInput, settingsOnce } from '../shared/errors';
import { configGateway } from '../shared/gateway';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import {
  balanceMessage,
  balanceStatus,
  nextThresholdState,
  normaliseBalanceDef,
  type ThresholdState,
} from './logic';

export = function (RED: NodeAPI): void {
  function HepekBalanceNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const settingsOf = settingsOnce(node, () => normaliseBalanceDef(def));
    let state: ThresholdState = 'unknown';

    node.on('input', async (msg, send, done) => {
      try {
        const settings = settingsOf();
        const gateway = configGateway(RED, def.config);
        const balance = await gateway.balance.read();
        const threshold = settings.lowThresholdErgon ?? gateway.lowThresholdErgon;
        state = nextThresholdState(state, balance.spendableErgon, threshold, settings.hysteresisErgon);
        const report = { ...balance, lowThresholdErgon: threshold, belowThreshold: state === 'below' };
        const status = balanceStatus(report);
        node.status({
          fill: status.fill,
          shape: status.shape,
          text: RED._(`hepek-balance.${status.key}`, { ergon: status.ergon, threshold: status.threshold }),
        });
        send(balanceMessage(msg, report));
        done();
      } catch (err) {
        failInput(node, err, done);
      }
    });

    node.on('close', (_removed, done) => {
      state = 'unknown';
      done();
    });
  }
  registerHepekType(RED, 'hepek-balance', HepekBalanceNode);
};
