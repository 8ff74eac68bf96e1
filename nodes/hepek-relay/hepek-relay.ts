/** `hepek-relay`: switches the supply relay from a message and reports its state. */
import { runDeviceNode } from '../shared/device-node';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import { parseRelayCommand, relayReason, relayStatus } from './logic';

export = function (RED: NodeAPI): void {
  function HepekRelayNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    // The status also follows changes made elsewhere (another node, the gateway's billing loop).
    runDeviceNode(RED, this, def, {
      device: (gateway) => gateway.relay,
      parseCommand: parseRelayCommand,
      reason: relayReason,
      status: (state) => {
        const status = relayStatus(state);
        return { fill: status.fill, shape: status.shape, text: RED._(`hepek-relay.${status.key}`) };
      },
    });
  }
  registerHepekType(RED, 'hepek-relay', HepekRelayNode);
};
