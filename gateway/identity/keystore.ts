/**
 * The device key in an encrypted keystore (the Web3 Secret Storage JSON that ethers writes),
 * file mode 0600 in a 0700 folder. The password comes from an environment variable; without it a
 * random password is generated once and kept next to the keystore (0600) — fine for a dev box,
 * and the log says so; production sets the variable or replaces the keystore with a hardware signer.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Wallet, encryptKeystoreJson, type TypedDataDomain, type TypedDataField } from 'ethers';
import { StateError } from '../errors';
import type { DeviceSigner } from './signer';

export interface KeystoreOptions {
  /** Folder holding device-keystore.json (created 0700). */
  dir: string;
  /** The password, if the caller has one (e.g. from the environment). */
  password: string | null;
  scryptN: number;
  log?: (line: string) => void;
}

export class KeystoreSigner implements DeviceSigner {
  private constructor(private readonly wallet: Wallet) {}

  get address(): string {
    return this.wallet.address;
  }

  signTypedData(
    domain: TypedDataDomain,
    types: Record<string, TypedDataField[]>,
    value: Record<string, unknown>,
  ): Promise<string> {
    return this.wallet.signTypedData(domain, types, value);
  }

  /**
   * Loads the device keystore, creating the key on first use.
   */
  static async open(options: KeystoreOptions): Promise<KeystoreSigner> {
    const log = options.log ?? (() => {});
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    chmodSync(options.dir, 0o700);
    const file = path.join(options.dir, 'device-keystore.json');
    const password =
      options.password ?? loadOrCreatePassword(path.join(options.dir, '.keystore-password'), log);
    if (existsSync(file)) {
      const mode = statSync(file).mode & 0o777;
      if (mode & 0o077) {
        log(`keystore: ${file} was readable by others (mode ${mode.toString(8)}); set to 0600`);
        chmodSync(file, 0o600);
      }
      try {
        const wallet = await Wallet.fromEncryptedJson(readFileSync(file, 'utf8'), password);
        return new KeystoreSigner(new Wallet(wallet.privateKey));
      } catch (err) {
        throw new StateError(
          file,
          `cannot decrypt the device keystore: ${(err as Error).message} (wrong password?)`,
          {
            cause: err,
          },
        );
      }
    }
    const wallet = Wallet.createRandom();
    const json = await encryptKeystoreJson(
      { address: wallet.address, privateKey: wallet.privateKey },
      password,
      { scrypt: { N: options.scryptN } },
    );
    writeFileSync(file, json, { mode: 0o600 });
    log(`keystore: created the device key ${wallet.address} in ${file}`);
    return new KeystoreSigner(new Wallet(wallet.privateKey));
  }
}

function loadOrCreatePassword(file: string, log: (line: string) => void): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(24).toString('base64url');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  log(
    `keystore: no password in the environment; generated one in ${file} (set the environment variable in production)`,
  );
  return password;
}
