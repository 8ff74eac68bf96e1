/**
 * The body of a node that commands one gateway device (relay, battery, thermostat): it follows
 * the device's state for its status, including changes made elsewhere (another node, the
 * gateway's own loops), and on input parses the command, sets it with the message's reason,
 * shows the new state and sends it on.
 */
import { failInput } from './errors';
import { gatewayAttachment, type NodeGateway } from './gateway';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeStatus } from './red';
import { stateMessage } from './commands';

/** What the node needs of a device: the relay, battery and thermostat all have this shape. */
export interface CommandableDevice<Command, State> {
  state(): State;
  set(command: Command, reason: string): Promise<State>;
  subscribe(listener: (state: State) => void): () => void;
}

export interface DeviceNodeSpec<Command, State> {
  /** The device of the gateway; throws a ConfigError when the gateway has none. */
  device(gateway: NodeGateway): CommandableDevice<Command, State>;
  /** The command in `msg.payload`; throws an InputError naming what is allowed. */
  parseCommand(payload: unknown): Command;
  /** Why the device is commanded, for its log. */
  reason(msg: NodeMessage): string;
  /** The node status (translated text) for a device state. */
  status(state: State): NodeStatus;
}

/** Wires `node` (just created from `def`) to its config's device as described above. */
export function runDeviceNode<Command, State>(
  RED: NodeAPI,
  node: Node,
  def: NodeDef,
  spec: DeviceNodeSpec<Command, State>,
): void {
  const showState = (state: State): void => node.status(spec.status(state));

  const attach = gatewayAttachment(RED, node, def.config, (gateway) => {
    const device = spec.device(gateway);
    showState(device.state());
    return device.subscribe(showState);
  });

  node.on('input', async (msg, send, done) => {
    try {
      const command = spec.parseCommand(msg.payload);
      const device = spec.device(attach());
      const state = await device.set(command, spec.reason(msg));
      showState(state);
      send(stateMessage(msg, state));
      done();
    } catch (err) {
      failInput(node, err, done);
    }
  });
}
