/**
 * `hepek-demand-listener`: sends `start` when a verified DEMAND event comes into force on the
 * meter's clock and `end` when it stops. The gateway verifies the hub's retained broadcasts (hub
 * signature, expiry, region); a signed `{event, signature}` given as input is verified the same
 * way. Forged, expired or foreign events are ignored with a warning saying why.
 */
import { verifyDemand } from '../../gateway/hub/protocol';
import { failInput, toError } from '../shared/errors';
import { gatewayAttachment, moneyOf } from '../shared/gateway';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import type { MoneyPath } from '../../gateway/channel/wire';
import type { DemandEvent } from '../../gateway/demand/types';
import {
  INITIAL_LISTENER_STATE,
  listenerStatus,
  stepDemand,
  transitionMessage,
  type ListenerState,
} from './logic';

export = function (RED: NodeAPI): void {
  function HepekDemandListenerNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    let state: ListenerState = INITIAL_LISTENER_STATE;
    let money: MoneyPath | null = null;

    const step = (event: DemandEvent | null) => {
      if (!money) return;
      const nowS = money.nowS();
      const next = stepDemand(state, event, nowS);
      state = next.state;
      for (const t of next.transitions) node.send(transitionMessage(t));
      const status = listenerStatus(state, nowS);
      node.status({
        fill: status.fill,
        shape: status.shape,
        text: RED._(`hepek-demand-listener.${status.key}`, { id: state.event?.id ?? '' }),
      });
    };
    const ignore = (reason: string) => {
      node.warn(`ignored a DEMAND event: ${reason}`);
      node.status({ fill: 'yellow', shape: 'ring', text: RED._('hepek-demand-listener.status.ignored') });
    };

    const attach = gatewayAttachment(RED, node, def.config, (gateway) => {
      money = moneyOf(gateway);
      const path = money;
      state = INITIAL_LISTENER_STATE;
      step(path.demand().event);
      const offDemand = path.subscribeDemand((update) => {
        if (update.kind === 'ignored') ignore(update.reason);
        else step(update.kind === 'event' ? update.event : null);
      });
      // The meter's clock moves the window: look again on every reading.
      const offMeter = gateway.meter.subscribe(() => step(state.event));
      return () => {
        offDemand();
        offMeter();
      };
    });

    node.on('input', (msg, _send, done) => {
      try {
        attach();
        const p = msg.payload as { event?: unknown; signature?: unknown } | null;
        if (typeof p === 'object' && p !== null && 'signature' in p) {
          let event: DemandEvent;
          try {
            event = verifyDemand(money!.hubDomain, p, money!.trust());
          } catch (err) {
            ignore(toError(err).message);
            return done();
          }
          step(event);
        } else step(state.event); // any other message: look at the clock now
        done();
      } catch (err) {
        failInput(node, err, done);
      }
    });
  }
  registerHepekType(RED, 'hepek-demand-listener', HepekDemandListenerNode);
};
