/**
 * The one list of HEPEK's Node-RED node types. package.json's `node-red.nodes` map must equal
 * `NODE_FILES` (a test checks it), and the build copies each type's `.html` and `locales/`.
 */
export const NODE_TYPES = [
  'hepek-config',
  'hepek-meter-read',
  'hepek-balance',
  'hepek-relay',
  'hepek-battery',
  'hepek-thermostat',
  'hepek-price-forecast',
  'hepek-list-offer',
  'hepek-market-buy',
  'hepek-channel-sign',
  'hepek-mint',
  'hepek-demand-listener',
] as const;

export type NodeType = (typeof NODE_TYPES)[number];

/** The compiled entry point of a type, relative to the package root. */
export function nodeFile(type: NodeType): string {
  return `dist/nodes/${type}/${type}.js`;
}

/** The TypeScript source of a type, relative to the package root (tests and tsx load these). */
export function nodeSource(type: NodeType): string {
  return `nodes/${type}/${type}.ts`;
}

export const NODE_FILES: Readonly<Record<NodeType, string>> = Object.freeze(
  Object.fromEntries(NODE_TYPES.map((type) => [type, nodeFile(type)])) as Record<NodeType, string>,
);
