#!/usr/bin/env node
// Compiles contracts/**/*.sol with the `solc` npm package (standard JSON, no Hardhat toolchain:
// the gateway ships Hardhat only as an in-process EVM) and generates ethers-v6 bindings.
//
//   node scripts/compile-contracts.mjs            compile if sources/compiler changed
//   node scripts/compile-contracts.mjs --force    always compile
//   HEPEK_EVM_VERSION=shanghai node scripts/compile-contracts.mjs
//
// Writes artifacts/<ContractName>.json = {contractName, sourceName, abi, bytecode, deployedBytecode,
// evmVersion, solcVersion} for every contract, interface or library defined under contracts/ (not for
// the OpenZeppelin ones it imports), artifacts/.build-info.json (the input hash used to skip
// unchanged builds) and the TypeChain bindings in gateway/chain/types/ (generated, gitignored).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));
const contractsDir = join(root, 'contracts');
const artifactsDir = join(root, 'artifacts');
const typesDir = join(root, 'gateway', 'chain', 'types');
const buildInfoPath = join(artifactsDir, '.build-info.json');

// Bump when the artifact layout or the compiler settings below change, so old builds are redone.
const FORMAT = 1;
const OPTIMIZER = { enabled: true, runs: 200 };

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full));
    else if (name.endsWith('.sol')) out.push(full);
  }
  return out;
}

/** Source unit name as solc sees it: a repo-relative POSIX path, e.g. `contracts/ErgonToken.sol`. */
function unitName(file) {
  return relative(root, file).split(sep).join('/');
}

/** Resolves imports solc could not find among the given sources (OpenZeppelin, sibling files). */
function findImports(path) {
  try {
    if (path.startsWith('@')) return { contents: readFileSync(require.resolve(path), 'utf8') };
    // Relative imports arrive already resolved against the importing unit, i.e. repo-relative.
    return { contents: readFileSync(join(root, path), 'utf8') };
  } catch (err) {
    return { error: `cannot resolve import ${path}: ${err.message}` };
  }
}

function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;
  } catch {
    return 'missing';
  }
}

function formatError(e) {
  return (e.formattedMessage ?? `${e.severity}: ${e.message}`).trimEnd();
}

/**
 * Compiles the contracts and regenerates the bindings unless nothing changed since the last build.
 * @param {{force?: boolean, quiet?: boolean}} [options]
 * @returns {Promise<{compiled: boolean, contracts: string[]}>} whether solc ran, and the artifact names
 */
export async function compileContracts({ force = false, quiet = false } = {}) {
  const log = quiet ? () => {} : (msg) => process.stdout.write(`${msg}\n`);
  const started = Date.now();
  // The package version stands in for the compiler in the hash: loading solc's wasm to ask it
  // takes most of a second, which an up-to-date build should not pay.
  const solcPackage = packageVersion('solc');
  const evmVersion = process.env.HEPEK_EVM_VERSION || 'cancun';

  const files = existsSync(contractsDir) ? walk(contractsDir) : [];
  if (files.length === 0) throw new Error(`no Solidity sources under ${relative(root, contractsDir)}/`);
  const sources = {};
  for (const file of files) sources[unitName(file)] = { content: readFileSync(file, 'utf8') };

  // Imported OpenZeppelin sources change with its version; hashing the version is cheaper than
  // hashing every imported file and catches `npm update`.
  const hash = createHash('sha256')
    .update(
      JSON.stringify({
        FORMAT,
        OPTIMIZER,
        solc: solcPackage,
        evmVersion,
        oz: packageVersion('@openzeppelin/contracts'),
        typechain: packageVersion('@typechain/ethers-v6'),
        sources,
      }),
    )
    .digest('hex');

  let previous;
  try {
    previous = JSON.parse(readFileSync(buildInfoPath, 'utf8'));
  } catch {
    previous = undefined;
  }
  const upToDate =
    !force &&
    previous?.hash === hash &&
    previous.contracts.every((name) => existsSync(join(artifactsDir, `${name}.json`))) &&
    existsSync(join(typesDir, 'index.ts'));
  if (upToDate) {
    log(`contracts: up to date (${previous.contracts.length} artifacts, solc ${solcPackage}, ${evmVersion})`);
    return { compiled: false, contracts: previous.contracts };
  }

  const solc = require('solc');
  const solcVersion = solc.version();
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      optimizer: OPTIMIZER,
      evmVersion,
      // Only our own units: OpenZeppelin's bytecode and ABIs are never needed on their own.
      outputSelection: Object.fromEntries(
        Object.keys(sources).map((u) => [
          u,
          { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
        ]),
      ),
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const diagnostics = output.errors ?? [];
  const errors = diagnostics.filter((e) => e.severity === 'error');
  const warnings = diagnostics.filter((e) => e.severity !== 'error');
  for (const w of warnings) process.stderr.write(`${formatError(w)}\n`);
  if (errors.length > 0) {
    throw new Error(
      `solc ${solcVersion} failed with ${errors.length} error(s):\n${errors.map(formatError).join('\n')}`,
    );
  }

  // Start from an empty artifacts dir so a deleted or renamed contract leaves no stale artifact.
  rmSync(artifactsDir, { recursive: true, force: true });
  mkdirSync(artifactsDir, { recursive: true });
  const names = [];
  const artifactPaths = [];
  for (const [sourceName, contracts] of Object.entries(output.contracts ?? {})) {
    for (const [contractName, out] of Object.entries(contracts)) {
      if (names.includes(contractName)) {
        throw new Error(`two contracts are named ${contractName}; artifact and binding names must be unique`);
      }
      const prefix = (hex) => (hex ? `0x${hex}` : '0x');
      const artifact = {
        contractName,
        sourceName,
        abi: out.abi,
        bytecode: prefix(out.evm.bytecode.object),
        deployedBytecode: prefix(out.evm.deployedBytecode.object),
        evmVersion,
        solcVersion,
      };
      const path = join(artifactsDir, `${contractName}.json`);
      writeFileSync(path, `${JSON.stringify(artifact, null, 2)}\n`);
      names.push(contractName);
      artifactPaths.push(path);
    }
  }
  names.sort();

  await generateTypes(artifactPaths);
  writeFileSync(
    buildInfoPath,
    `${JSON.stringify({ hash, solcVersion, evmVersion, contracts: names }, null, 2)}\n`,
  );
  log(
    `contracts: compiled ${names.join(', ')} (solc ${solcVersion}, ${evmVersion}, ` +
      `${warnings.length} warning(s)) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return { compiled: true, contracts: names };
}

async function generateTypes(artifactPaths) {
  const { runTypeChain } = require('typechain');
  // Regenerated from scratch so bindings of removed contracts disappear too.
  rmSync(typesDir, { recursive: true, force: true });
  mkdirSync(dirname(typesDir), { recursive: true });
  await runTypeChain({
    cwd: root,
    filesToProcess: artifactPaths,
    allFiles: artifactPaths,
    outDir: relative(root, typesDir),
    target: 'ethers-v6',
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await compileContracts({ force: process.argv.includes('--force') });
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
