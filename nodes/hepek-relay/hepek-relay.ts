/** `hepek-relay`: switches the supply relay from a message and reports its state. */
import type { RelayState } from '../../gateway/context';
import { failInput, failOutsideInput } from '../shared/errors';
import { gatewayAttachment } from '../shared/gateway';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import { parseRelayCommand, relayMessage, relayReason, relayStatus } from './logic';

export = function (RED: NodeAPI): void {
  function HepekRelayNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;

    const showState = (state: RelayState): void => {
      const status = relayStatus(state);
      node.status({ fill: status.fill, shape: status.shape, text: RED._(`hepek-relay.${status.key}`) });
    };

    // Follows changes made elsewhere (another node, the gateway's billing loop) for the status.
    const attach = gatewayAttachment(RED, node, def.config, (gateway) => {
      showState(gateway.relay.state());
      return gateway.relay.subscribe(showState);
    });

    try {
      attach();
    } catch (err) {
      failOutsideInput(node, err);
    }

    node.on('input', async (msg, send, done) => {
      try {
        const on = parseRelayCommand(msg.payload);
        const gateway = attach();
        const state = await gateway.relay.set(on, relayReason(msg));
        showState(state);
        send(relayMessage(msg, state));
        done();
      } catch (err) {
        failInput(node, err, done);
      }
    });
  }
  registerHepekType(RED, 'hepek-relay', HepekRelayNode);
};
