/** `hepek-relay`: switches the supply relay from a message and reports its state. */
import type { RelayState } from '../../gateway/context';
import { failInput, failOutsideInput } from '../shared/errors';
import { configGateway, type NodeGateway } from '../shared/gateway';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { parseRelayCommand, relayMessage, relayReason, relayStatus } from './logic';

export = function (RED: NodeAPI): void {
  function HepekRelayNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    let unsubscribe: (() => void) | undefined;

    const showState = (state: RelayState): void => {
      const status = relayStatus(state);
      node.status({ fill: status.fill, shape: status.shape, text: RED._(`hepek-relay.${status.key}`) });
    };

    // Follows changes made elsewhere (another node, the gateway's billing loop) for the status.
    const attach = (): NodeGateway => {
      const gateway = configGateway(RED, def.config);
      if (!unsubscribe) {
        unsubscribe = gateway.relay.subscribe(showState);
        showState(gateway.relay.state());
      }
      return gateway;
    };

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

    node.on('close', (_removed, done) => {
      unsubscribe?.();
      unsubscribe = undefined;
      done();
    });
  }
  RED.nodes.registerType('hepek-relay', HepekRelayNode);
};
