import { failOutsideInput } from './errors';
import { migrateConfig } from './migrations';
import type { Node, NodeAPI, NodeDef } from './red';
import type { NodeType } from '../types';

/**
 * Registers a HEPEK node type with its saved config migrated first. A config that cannot be
 * migrated still creates the node, so the editor shows it red and every message it receives goes
 * to Catch nodes with the reason, rather than the whole flow failing to start.
 */
export function registerHepekType<T extends Node>(
  RED: NodeAPI,
  type: NodeType,
  constructor: (this: T, def: NodeDef) => void,
  /** Called on a node whose config could not be migrated, e.g. so a config node can report it. */
  onInvalid?: (node: T, err: Error) => void,
): void {
  RED.nodes.registerType(type, function (this: Node, def: NodeDef) {
    let migrated: NodeDef;
    try {
      migrated = migrateConfig(type, def);
    } catch (err) {
      RED.nodes.createNode(this, def);
      failOutsideInput(this, err);
      this.on('input', (_msg, _send, done) => done(err as Error));
      onInvalid?.(this as T, err as Error);
      return;
    }
    constructor.call(this as T, migrated);
  });
}
