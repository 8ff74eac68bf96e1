/**
 * The ledger's deployment plan: which contracts, in which order, with which constructor arguments
 * and roles. `hepek deploy`, the gateway's dev-chain provisioning, the contract tests and the gas
 * benchmark all deploy through `deployLedger`, so they cannot drift apart. Adding a contract is one
 * line in DEPLOY_PLAN (its artifact is found by name).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ContractFactory, id, parseUnits, type ContractRunner, type InterfaceAbi } from 'ethers';
import { StateError } from '../errors';
import { packageRoot } from '../paths';

/** Export reward of a new deployment: 0.1 ERGON per exported kWh, in ERGON base units per Wh. */
export const DEFAULT_EXPORT_RATE_WEI_PER_WH = parseUnits('0.1', 18) / 1000n;
/**
 * Grid emission factor of a new deployment, mg CO2e per Wh (numerically g CO2e per kWh): 380,
 * roughly the German grid mix of 2023. The operator sets the real one with setEmissionFactor.
 */
export const DEFAULT_EMISSION_FACTOR_MG_PER_WH = 380n;
/**
 * EnergyMarket's proof tolerance of a new deployment, seconds: a proof's readings may lie this far
 * outside the delivery window — one 15-minute billing cycle. Also the least lead time of a listing.
 */
export const DEFAULT_MARKET_TOLERANCE_S = 900n;
/**
 * EnergyMarket's grace period, seconds after the window end in which delivery may be proven: 6 h,
 * well inside the day of readings MeterReadings keeps as checkpoints.
 */
export const DEFAULT_MARKET_GRACE_S = 6n * 3600n;

/** Who gets which role. The deployer is the admin of every contract (it grants the roles). */
export interface LedgerRoles {
  /** Sets device modes, export rate and emission factor; signs purchase receipts. */
  operator: string;
  /** Registers devices. */
  manufacturer: string;
}

/** Deployment parameters that are settings (settings.market); defaults above. */
export interface LedgerParams {
  /** EnergyMarket TOLERANCE, s. */
  marketToleranceS: bigint;
  /** EnergyMarket GRACE, s. */
  marketGraceS: bigint;
}

export const DEFAULT_LEDGER_PARAMS: LedgerParams = {
  marketToleranceS: DEFAULT_MARKET_TOLERANCE_S,
  marketGraceS: DEFAULT_MARKET_GRACE_S,
};

interface DeployStep {
  /** Contract name = artifact name (artifacts/<name>.json). */
  name: string;
  /** Constructor arguments, given the deployer (admin), the addresses deployed so far and the parameters. */
  args(admin: string, deployed: Record<string, string>, params: LedgerParams): unknown[];
  /** Gets ERGON's MINTER_ROLE. */
  minter?: boolean;
  /** Roles on this contract to grant after deployment: [role name, who]. */
  grants?: ReadonlyArray<readonly [string, keyof LedgerRoles]>;
  /** Roles on other contracts of the plan to grant to this one: [contract name, role name]. */
  grantedBy?: ReadonlyArray<readonly [string, string]>;
}

export const DEPLOY_PLAN: readonly DeployStep[] = [
  { name: 'ErgonToken', args: (admin) => [admin] },
  {
    name: 'GatewayRegistry',
    args: (admin) => [admin],
    grants: [
      ['MANUFACTURER_ROLE', 'manufacturer'],
      ['OPERATOR_ROLE', 'operator'],
    ],
  },
  {
    name: 'MeterReadings',
    args: (admin, d) => [
      admin,
      d.GatewayRegistry,
      d.ErgonToken,
      DEFAULT_EXPORT_RATE_WEI_PER_WH,
      DEFAULT_EMISSION_FACTOR_MG_PER_WH,
    ],
    minter: true,
    grants: [['OPERATOR_ROLE', 'operator']],
  },
  {
    name: 'Purchase',
    args: (admin, d) => [admin, d.ErgonToken],
    minter: true,
    grants: [['OPERATOR_ROLE', 'operator']],
  },
  // Holds deposits, mints nothing, needs no roles.
  { name: 'PaymentChannels', args: (_admin, d) => [d.ErgonToken, d.GatewayRegistry] },
  // Holds escrow, mints nothing; holds and sells devices' export in MeterReadings.
  {
    name: 'EnergyMarket',
    args: (_admin, d, p) => [
      d.GatewayRegistry,
      d.MeterReadings,
      d.ErgonToken,
      p.marketToleranceS,
      p.marketGraceS,
    ],
    grantedBy: [['MeterReadings', 'MARKET_ROLE']],
  },
];

/** The contracts every deployment has. */
export const LEDGER_CONTRACTS = DEPLOY_PLAN.map((step) => step.name);

/** Addresses by contract name, in plan order. */
export type LedgerAddresses = Record<string, string>;

interface Artifact {
  abi: InterfaceAbi;
  bytecode: string;
}

/** A compiled contract's ABI and bytecode (artifacts/<name>.json, written by the build). */
export function loadArtifact(name: string, root = packageRoot()): Artifact {
  const file = path.join(root, 'artifacts', `${name}.json`);
  if (!existsSync(file)) throw new StateError(file, 'missing; run `npm run build` to compile the contracts');
  return JSON.parse(readFileSync(file, 'utf8')) as Artifact;
}

/** A signer that can deploy: an ethers Wallet or JSON-RPC signer connected to a provider. */
export type Deployer = ContractRunner & { getAddress(): Promise<string> };

/**
 * Deploys the plan with `deployer` as admin of every contract, grants ERGON's MINTER_ROLE to exactly
 * the steps marked `minter`, and the listed roles. Waits for every transaction. `log` hears one line
 * per contract.
 */
export async function deployLedger(
  deployer: Deployer,
  roles: LedgerRoles,
  log: (line: string) => void = () => {},
  params: LedgerParams = DEFAULT_LEDGER_PARAMS,
): Promise<LedgerAddresses> {
  const admin = await deployer.getAddress();
  const deployed: LedgerAddresses = {};
  const contracts: Record<string, Awaited<ReturnType<ContractFactory['deploy']>>> = {};
  for (const step of DEPLOY_PLAN) {
    const { abi, bytecode } = loadArtifact(step.name);
    const contract = await new ContractFactory(abi, bytecode, deployer).deploy(
      ...step.args(admin, deployed, params),
    );
    await contract.waitForDeployment();
    deployed[step.name] = await contract.getAddress();
    contracts[step.name] = contract;
    log(`deployed ${step.name} at ${deployed[step.name]}`);
  }
  for (const step of DEPLOY_PLAN) {
    const grants: Array<readonly [string, string]> = (step.grants ?? []).map(([role, who]) => [
      role,
      roles[who],
    ]);
    for (const [role, account] of grants) await grant(contracts[step.name]!, role, account);
    if (step.minter) await grant(contracts.ErgonToken!, 'MINTER_ROLE', deployed[step.name]!);
    for (const [on, role] of step.grantedBy ?? []) await grant(contracts[on]!, role, deployed[step.name]!);
  }
  return deployed;
}

async function grant(
  contract: Awaited<ReturnType<ContractFactory['deploy']>>,
  role: string,
  account: string,
): Promise<void> {
  const tx = (await contract.getFunction('grantRole')(id(role), account)) as { wait(): Promise<unknown> };
  await tx.wait();
}
