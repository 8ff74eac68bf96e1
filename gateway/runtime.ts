/**
 * The gateway runtime. Boots in order — settings (already validated) → device identity → chain →
 * store (journal, InfluxDB writer) → MQTT broker → devices (meter, relay) → Node-RED — and stops
 * in the reverse order, releasing every timer, socket and server so the process exits by itself.
 */
import { startMarket } from './market';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Settings } from '../settings';
import { checkHardfork, contractsEvmVersion } from './chain/artifacts';
import { createTokenBalanceSource } from './chain/balance';
import { connectChain, type ChainConnection } from './chain/connect';
import { deviceIdFromSerial } from './chain/ids';
import { ensureContracts, provisionDevice } from './chain/provision';
import { registerGateway, type GatewayContext, type MeterReading, type RelayState } from './context';
import { brokerCredentialsFor } from './broker/auth';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker/embedded';
import { registryCheck } from './broker/registry';
import { loadOrCreateBrokerSecret } from './broker/secret';
import { checkDeviceSettings, startDevices } from './devices/wiring';
import { StateError } from './errors';
import { loadOrCreateDevAccounts } from './identity/dev-accounts';
import { KeystoreSigner } from './identity/keystore';
import { loadOrCreateHaCredentials } from './integrations/homeassistant/credentials';
import { startHomeAssistant } from './integrations/homeassistant/integration';
import { pricePayload } from './integrations/price-topic';
import { hepekTopics } from './integrations/topics';
import { simulatedHomeThermostat } from './integrations/homeassistant/sim-thermostat';
import { startOpenAdr } from './integrations/openadr/wire';
import { createLogger, type Logger } from './log';
import { flowSource, startNodeRed, type EmbeddedNodeRed } from './nodered/embedded';
import { packageVersion } from './paths';
import { SimulatedHome, parseHomeOptions, type HomeSnapshot } from './sim/home';
import { dataDir, loadSeriesFile, resolveProfileFile } from './sim/profile';
import { Journal, parseJournalOptions } from './store/journal';
import { LedgerJournal } from './store/ledger';
import { watchLedgerFlows } from './store/ledger-chain';

import { INFLUX_CURSOR, InfluxWriter, parseInfluxSettings } from './store/influx';
import type { JournalEntry } from './store/measurements';
import { DsmrSerialMeter } from './meters/dsmr/meter';
import { createMeter, type ManagedMeter } from './meters/registry';
import { startDapp } from './web';
import type { ChannelInfo } from './web/api';
import { PriceForecastService } from './forecast/service';
import { PriceReplay, resolvePriceFile } from './prices/replay';
import { startPurchases, type MintedPayment, type PurchaseWebhook } from './purchase';
import { parseDemandSettings, startMoneyPath, type MoneyPath } from './channel/wire';

/** How often the ledger reads claimed rewards and settled market sales from the chain. */
const LEDGER_POLL_MS = 10_000;

export interface Runtime {
  readonly settings: Settings;
  readonly context: GatewayContext;
  readonly editorUrl: string;
  readonly brokerUrl: string;
  readonly chainLabel: string;
  /** Everything `/hepek/status` reports. */
  status(): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** The device serial: from settings, else the one generated at first start, else a new one. */
function loadSerial(settings: Settings): string {
  const file = path.join(settings.userDir, 'identity.json');
  if (existsSync(file)) {
    let stored: { serial?: string };
    try {
      stored = JSON.parse(readFileSync(file, 'utf8')) as { serial?: string };
    } catch (err) {
      throw new StateError(file, 'is not valid JSON', { cause: err });
    }
    if (settings.identity.serial && stored.serial && stored.serial !== settings.identity.serial)
      throw new StateError(
        file,
        `this user dir belongs to device ${stored.serial}, but identity.serial is ${settings.identity.serial}; use another userDir for another device`,
      );
    if (stored.serial) return stored.serial;
  }
  const serial = settings.identity.serial ?? `HPK-${randomBytes(5).toString('hex').toUpperCase()}`;
  writeFileSync(file, `${JSON.stringify({ serial }, null, 2)}\n`);
  return serial;
}

/** A random secret created once, mode 0600 (Node-RED's flow-credentials key). */
function loadOrCreateSecret(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

function readSnapshot(file: string, log: Logger): HomeSnapshot | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as HomeSnapshot;
  } catch {
    log.warn(`simulator: ${file} is not valid JSON; the simulated meter starts from zero`);
    return null;
  }
}

/** The Home Assistant broker account, when HA discovery is on (see `hepek ha-credentials`). */
function haBrokerUsers(settings: Settings) {
  return settings.integrations.homeAssistant.enabled ? [loadOrCreateHaCredentials(settings.userDir)] : [];
}

/** The newer of the clean-stop snapshot and the last journaled (acknowledged) reading. */
function newestMeterState(
  snapshot: HomeSnapshot | null,
  journal: Journal<JournalEntry>,
): HomeSnapshot | null {
  const last = journal.recovered.last?.data;
  if (last?.kind !== 'meter') return snapshot;
  const simTimeMs = Date.parse(last.reading.timestamp);
  if (!Number.isFinite(simTimeMs) || (snapshot && snapshot.simTimeMs >= simTimeMs)) return snapshot;
  const soc = last.reading.batterySocPercent;
  const indoor = last.reading.indoorC;
  return {
    simTimeMs,
    importWh: Math.max(last.reading.importWh, snapshot?.importWh ?? 0),
    exportWh: Math.max(last.reading.exportWh, snapshot?.exportWh ?? 0),
    ...(typeof soc === 'number' ? { batterySocPercent: soc } : {}),
    ...(typeof indoor === 'number' ? { indoorC: indoor } : {}),
  };
}

/** Runs `steps` in reverse, logging (not throwing) each failure so every later step still runs. */
async function unwind(steps: Array<[string, () => Promise<void> | void]>, log: Logger): Promise<void> {
  for (const [name, step] of steps.reverse()) {
    try {
      await step();
    } catch (err) {
      log.warn(`stop: ${name} failed: ${(err as Error).message}`);
    }
  }
}

export async function startRuntime(settings: Settings, logger?: Logger): Promise<Runtime> {
  const log = logger ?? createLogger(settings.log.level);
  const cleanup: Array<[string, () => Promise<void> | void]> = [];
  try {
    // Checked before anything is written or started, like the settings themselves.
    const firstFlow = flowSource(settings.nodeRed.flow);
    checkDeviceSettings(settings);
    parseDemandSettings(settings.hub.demand, settings.hub.region);
    // The price feed's settings live under sim. too but are not the home's (below).
    const {
      priceFile: _priceFile,
      priceStartDate: _start,
      priceForecastModel: _model,
      startTime,
      ...home
    } = settings.sim;
    const homeOptions = parseHomeOptions(startTime === null ? home : { ...home, startTime }, 'sim.');
    const profileFile = homeOptions.profileFile ? resolveProfileFile(homeOptions.profileFile) : null;
    if (profileFile) loadSeriesFile(profileFile, 'sim.profileFile');
    const journalOptions = parseJournalOptions(
      { dir: path.join(settings.userDir, 'journal'), ...settings.store.journal },
      'store.journal.',
    );
    const influxOptions = settings.influx ? parseInfluxSettings(settings.influx) : null;
    mkdirSync(settings.userDir, { recursive: true, mode: 0o700 });
    // Read once: package.json is not re-read for every /hepek/status request.
    const version = packageVersion();
    log.info(`HEPEK ${version} starting in ${settings.userDir} (${settings.mode})`);

    // Device identity: the key never leaves the keystore; dev roles play operator & co.
    const serial = loadSerial(settings);
    const deviceId = deviceIdFromSerial(serial);
    const keysDir = path.join(settings.userDir, 'keys');
    const signer = await KeystoreSigner.open({
      dir: keysDir,
      password: process.env[settings.identity.keystorePasswordEnv] ?? null,
      scryptN: settings.identity.scryptN,
      log: log.info,
    });
    const accounts = loadOrCreateDevAccounts(keysDir);
    log.info(`device ${serial} (${deviceId}), HEPEK wallet ${signer.address}`);

    // Chain: deploy or reuse contracts, provision the device on a dev chain.
    if (settings.chain.rpcUrl === null) checkHardfork(settings.chain.hardfork, contractsEvmVersion());
    const chain: ChainConnection = await connectChain(
      settings.chain,
      path.join(settings.userDir, 'chain'),
      log.info,
    );
    cleanup.push(['chain', () => chain.close()]);
    const deployed = await ensureContracts(chain, settings, accounts, log.info);
    await provisionDevice(
      chain,
      deployed,
      accounts,
      {
        deviceId,
        serial,
        signer,
        ratedExportW: Math.max(1, Math.round(settings.meter.pvPeakW)),
        // The registry holds the mode the gateway runs in: a consumer may not sell on the market.
        mode: settings.mode,
      },
      settings.balance.demoMintErgon,
      log.info,
    );
    log.info(`chain: ${chain.label}`);

    // Store (before the MQTT client connects: nothing may await between its connect() and its
    // 'connect' handlers). Every reading is journaled (fdatasync) before it is acknowledged — published on
    // hepek/<serial>/meter with its journal `seq` (gateway/store/journal.ts). A torn tail left by
    // a crash is cut here; it was never acknowledged.
    const journal = await Journal.open<JournalEntry>({ ...journalOptions, log: log.warn });
    log.info(`journal: ${journal.recovered.records} readings recovered, last seq ${journal.lastSeq}`);
    cleanup.push(['journal', () => journal.close()]);
    let influx: InfluxWriter | null = null;
    if (influxOptions) {
      influx = new InfluxWriter(influxOptions, { journal, serial, log });
      influx.start();
      const writer = influx;
      cleanup.push(['influx writer', () => writer.stop()]);
    } else journal.removeConsumer(INFLUX_CURSOR);

    // The ledger journal: ERGON flows and prices for the dashboards (gateway/store/ledger.ts), with
    // its own InfluxDB cursor so a long InfluxDB outage loses none of it either.
    const ledger = await LedgerJournal.open({
      ...journalOptions,
      dir: path.join(settings.userDir, 'ledger'),
      log: log.warn,
    });
    cleanup.push(['ledger journal', () => ledger.close()]);
    if (influxOptions) {
      const writer = new InfluxWriter(influxOptions, { journal: ledger.journal, serial, log });
      writer.start();
      ledger.onAppend(() => writer.notify());
      cleanup.push(['influx writer (ledger)', () => writer.stop()]);
    } else ledger.journal.removeConsumer(INFLUX_CURSOR);

    // MQTT: the embedded broker unless an external URL is set; the gateway's own client either way.
    // The embedded broker authenticates every client (gateway/broker/README.md): devices by serial
    // and an HMAC password under the operator's broker secret (and only while registered and
    // active), the hub and the gateway by their service accounts, broker.users and Home Assistant
    // as full-access accounts. Against an external broker the URL carries the gateway's login.
    let brokerUrl = settings.broker.url;
    const brokerSecret = loadOrCreateBrokerSecret(settings.userDir, settings.broker.secretEnv);
    const gatewayLogin = brokerCredentialsFor(brokerSecret, { service: 'gateway' });
    if (brokerUrl === null) {
      const broker: EmbeddedBroker = await startEmbeddedBroker({
        host: settings.broker.host,
        port: settings.broker.port,
        users: [],
        auth: {
          secret: brokerSecret,
          admins: [...settings.broker.users, ...haBrokerUsers(settings)],
          isRegistered: registryCheck({
            provider: chain.provider,
            registry: deployed.contracts.addresses.GatewayRegistry,
            log: log.warn,
          }),
        },
        log: log.warn,
      });
      cleanup.push(['broker', () => broker.close()]);
      brokerUrl = broker.url;
    }
    const mqtt = await import('mqtt');
    const statusTopic = `hepek/${serial}/status`;
    const client: MqttClient = mqtt.connect(brokerUrl, {
      clientId: `hepek-gateway-${serial}`,
      ...(settings.broker.url === null ? gatewayLogin : {}),
      will: { topic: statusTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
    });
    client.on('error', (err) => log.warn(`mqtt: ${err.message}`));
    client.on('connect', () => client.publish(statusTopic, 'online', { qos: 1, retain: true }));
    cleanup.push([
      'mqtt client',
      () =>
        new Promise<void>((resolve) => {
          if (!client.connected) return client.end(true, {}, () => resolve());
          client.publish(statusTopic, 'offline', { qos: 1, retain: true }, () =>
            client.end(false, {}, () => resolve()),
          );
        }),
    ]);

    // Devices: the meter — the simulated home (counters carried across restarts) or a type from
    // the meter registry, e.g. a DSMR P1 meter on a serial port — and the relay.
    const snapshotFile = path.join(settings.userDir, 'sim-meter.json');
    const onMeterListenerError = (err: unknown) => log.warn(`meter listener: ${(err as Error).message}`);
    let meter: ManagedMeter;
    if (settings.meter.type === 'simulated') {
      const home = new SimulatedHome(
        {
          ...homeOptions,
          speed: settings.meter.speed,
          intervalMs: settings.meter.intervalMs,
          annualLoadKWh: settings.meter.annualLoadKWh,
          pvPeakW: settings.meter.pvPeakW,
          latitudeDeg: settings.meter.latitudeDeg,
          seed: settings.meter.seed,
        },
        { onListenerError: onMeterListenerError },
      );
      if (homeOptions.profileFile === 'emhass' && !profileFile)
        log.warn(
          'simulator: sim.profileFile is "emhass" but the shared data folder has no load_pv series; replaying the synthetic profile',
        );
      log.info(`simulator: ${home.profile.label} profile`);
      // After a crash the snapshot is stale: the last acknowledged reading is newer, start there.
      const snapshot = newestMeterState(readSnapshot(snapshotFile, log), journal);
      if (snapshot) {
        try {
          home.restore(snapshot);
        } catch (err) {
          log.warn(
            `simulator: cannot restore ${snapshotFile}: ${(err as Error).message}; starting from zero`,
          );
        }
      }
      meter = home;
    } else {
      meter = createMeter(settings.meter.type, settings.meter[settings.meter.type], {
        onListenerError: onMeterListenerError,
        fieldPrefix: `meter.${settings.meter.type}.`,
      });
      if (meter instanceof DsmrSerialMeter) {
        meter.subscribeStatus((s) => {
          if (s.error) log.warn(`meter: ${s.error.message}`);
          else log.info(`meter: ${meter.kind} ${s.state}`);
        });
        meter.subscribeProblems((err) => log.warn(`meter: refused telegram: ${err.message}`));
      }
    }
    // Relay, battery, thermostat, position and sensors as configured (gateway/devices/registry.ts).
    const devices = await startDevices(settings, {
      mqtt: client,
      log: log.warn,
      ...(meter instanceof SimulatedHome ? { home: meter } : {}),
    });
    cleanup.push(['devices', () => devices.close()]);
    const relay = devices.relay;
    // Spendable = wallet + the channel's acknowledged unspent deposit (the payer, once it runs).
    let money: MoneyPath | null = null;
    const balance = createTokenBalanceSource(
      chain.provider,
      deployed.contracts.addresses.ErgonToken,
      signer.address,
      {
        rpc: chain.rpcUrl ?? 'in-process dev chain',
        channelUnspentWei: () => money?.channelUnspentWei() ?? 0n,
      },
    );
    devices.watchChain(balance);
    const meterTopic = `hepek/${serial}/meter`;
    const relayTopic = `hepek/${serial}/relay`;
    const unsubscribeMeter = meter.subscribe((reading: MeterReading) => {
      journal.append({ kind: 'meter', source: meter.kind, reading: { ...reading } }).then(
        (seq) => {
          influx?.notify();
          if (client.connected)
            client.publish(meterTopic, JSON.stringify({ ...reading, seq }), { qos: 0, retain: true });
        },
        (err: Error) => log.warn(`journal: reading ${reading.timestamp} not acknowledged: ${err.message}`),
      );
    });
    const publishRelay = (state: RelayState) => {
      if (client.connected) client.publish(relayTopic, JSON.stringify(state), { qos: 1, retain: true });
    };
    const unsubscribeRelay = relay.subscribe(publishRelay);
    client.on('connect', () => publishRelay(relay.state()));
    cleanup.push([
      'meter',
      async () => {
        unsubscribeMeter();
        unsubscribeRelay();
        await meter.stop();
        if (meter instanceof SimulatedHome)
          writeFileSync(snapshotFile, `${JSON.stringify(meter.snapshot())}\n`);
      },
    ]);

    // Market: this device's offers and buys, window readings, proofs and settlements. On a chain
    // we deployed, the demo member (the device's owner, funded) relays; the device key has no ETH.
    const market = startMarket(
      settings,
      {
        chainId: chain.chainId,
        contracts: deployed.contracts.addresses,
        device: signer,
        deviceId,
        meter,
        relayer: deployed.record !== null ? accounts.member.connect(chain.provider) : null,
      },
      log,
    );
    if (market) cleanup.push(['market', () => market.stop()]);

    // Purchases: the payment provider's webhook, where this gateway holds the operator key.
    const purchases = await startPurchases(
      settings,
      {
        provider: chain.provider,
        chainId: chain.chainId,
        label: chain.label,
        registry: deployed.contracts.addresses.GatewayRegistry,
        purchase: deployed.contracts.addresses.Purchase,
      },
      deployed.record !== null ? accounts.operator : null,
      log,
    );
    const purchaseWebhook: PurchaseWebhook | null = purchases?.webhook ?? null;
    if (purchaseWebhook) {
      // ERGON bought for this HEPEK's wallet is its `purchased` flow; the payment id keeps a
      // mint from being counted twice, so mints the ledger missed (a crash between the two
      // journals) are caught up here at start.
      const ours = (payment: MintedPayment) => payment.wallet.toLowerCase() === signer.address.toLowerCase();
      const record = (payment: MintedPayment) =>
        ledger
          .addErgon('purchased', BigInt(payment.amountWei), new Date(payment.receivedAt * 1000), payment.id)
          .catch((err: Error) => log.warn(`ledger: purchase ${payment.id} not recorded: ${err.message}`));
      for (const payment of purchaseWebhook.mintedPayments()) if (ours(payment)) await record(payment);
      cleanup.push(['purchase ledger', purchaseWebhook.onMinted((p) => void (ours(p) && record(p)))]);
    }
    // Rewards claimed and market sales settled for this device, from the chain's events.
    const flowWatcher = watchLedgerFlows({
      provider: chain.provider,
      deviceId,
      ...(deployed.contracts.addresses.MeterReadings
        ? { meterReadings: deployed.contracts.addresses.MeterReadings }
        : {}),
      ...(deployed.contracts.addresses.EnergyMarket
        ? { energyMarket: deployed.contracts.addresses.EnergyMarket }
        : {}),
      ledger,
      cursorFile: path.join(settings.userDir, 'ledger', 'chain-cursor.json'),
    });
    const pollFlows = () =>
      flowWatcher.poll().catch((err: Error) => log.warn(`ledger: chain events not read yet: ${err.message}`));
    // Not awaited: after a long stop the catch-up may read many blocks; the start does not wait.
    void pollFlows();
    const flowTimer = setInterval(() => void pollFlows(), LEDGER_POLL_MS);
    flowTimer.unref();
    cleanup.push(['ledger chain watcher', () => clearInterval(flowTimer)]);
    if (purchaseWebhook) cleanup.push(['purchases', () => purchaseWebhook.close()]);

    // The money path: the embedded hub (when this gateway plays the operator) and the payer.
    money = await startMoneyPath({
      settings,
      chain,
      contracts: deployed.contracts.addresses,
      devKeys: deployed.record !== null ? { hub: accounts.hub, member: accounts.member } : null,
      serial,
      deviceId,
      signer,
      client,
      brokerUrl,
      brokerLogin:
        settings.broker.url === null ? brokerCredentialsFor(brokerSecret, { service: 'hub' }) : null,
      meter,
      simClockMs: meter instanceof SimulatedHome ? () => (meter as SimulatedHome).timeMs : null,
      relay,
      purchase: purchases && settings.channel.autoPurchase.enabled ? purchases.demoProvider(serial) : null,
      ledger,
      log,
    });
    const moneyPath = money;
    if (moneyPath) cleanup.push(['money path', () => moneyPath.stop()]);

    const context: GatewayContext = {
      deviceId,
      serial,
      wallet: signer.address,
      chainId: chain.chainId,
      contracts: deployed.contracts.addresses,
      lowThresholdErgon: settings.balance.lowThresholdErgon,
      meter,
      relay,
      balance,
      ...(devices.battery ? { battery: devices.battery } : {}),
      ...(devices.thermostat ? { thermostat: devices.thermostat } : {}),
      ledger,
      ...(market ? { market } : {}),
      ...(money ? { money } : {}),
    };
    cleanup.push(['gateway registration', registerGateway(context)]);

    // Home Assistant: discovery, balance and commands on the gateway's own client.
    let allowDemand = () => true;
    if (settings.integrations.homeAssistant.enabled) {
      const ha = startHomeAssistant({
        client,
        serial,
        version,
        prefix: settings.integrations.homeAssistant.discoveryPrefix,
        relay,
        balance,
        meter,
        thermostat: (meter instanceof SimulatedHome && simulatedHomeThermostat(meter)) || undefined,
        balanceIntervalMs: settings.integrations.homeAssistant.balanceIntervalMs,
        log,
      });
      cleanup.push(['home assistant', () => ha.stop()]);
      allowDemand = ha.allowDemand;
    }
    if (settings.integrations.openadr.vtnUrl !== null)
      cleanup.push(['openadr ven', startOpenAdr(settings, serial, client, allowDemand, log)]);

    // Everything local is always reported; a chain that does not answer adds `error` (HTTP 503).
    const status = async (): Promise<Record<string, unknown>> => {
      const local: Record<string, unknown> = {
        version,
        mode: settings.mode,
        serial,
        deviceId,
        wallet: signer.address,
        contracts: deployed.contracts.addresses,
        broker: { url: brokerUrl, connected: client.connected },
        lowThresholdErgon: settings.balance.lowThresholdErgon,
        relay: relay.state(),
        meter: meter.latest(),
        devices: devices.status(),
        journal: journal.stats(),
        ...(influx ? { influx: influx.stats() } : {}),
        ...(purchaseWebhook ? { purchases: purchaseWebhook.stats() } : {}),
        ergonFlows: ledger.totals(),
        ...(money ? { channel: money.status() } : {}),
      };
      try {
        // The balance is read at one block; report that block rather than asking again.
        const current = await balance.read();
        return {
          ...local,
          chain: { chainId: chain.chainId, rpcUrl: chain.rpcUrl, blockNumber: current.blockNumber },
          balance: current,
        };
      } catch (err) {
        return {
          ...local,
          chain: { chainId: chain.chainId, rpcUrl: chain.rpcUrl, blockNumber: null },
          error: `chain: ${chain.label} does not answer: ${(err as Error).message}`,
        };
      }
    };

    // The DApp at /dapp: its reading history starts with the meter.
    // Buying ERGON from the DApp: the operator's payment page, else (dev chain) the demo provider.
    const maxErgon = settings.purchases.maxErgon;
    const dappPurchase =
      settings.purchases.checkoutUrl !== null
        ? { provider: 'checkout' as const, checkoutUrl: settings.purchases.checkoutUrl, maxErgon }
        : purchases && chain.embedded
          ? { provider: 'demo' as const, maxErgon, pay: purchases.demoProvider(serial).pay }
          : undefined;
    // The day-ahead price feed of the simulated household (sim.priceFile) and its forecast: the
    // DApp's price vs forecast, and one hepek_price point per meter-clock hour for the dashboards.
    let priceReplay: PriceReplay | null = null;
    if (settings.sim.priceFile !== null) {
      const meterNow = () =>
        meter instanceof SimulatedHome
          ? meter.timeMs
          : Date.parse(meter.latest()?.timestamp ?? '') || Date.now();
      const forecaster =
        settings.sim.priceForecastModel !== null
          ? await PriceForecastService.open(settings.sim.priceForecastModel)
          : null;
      if (forecaster) cleanup.push(['price forecaster', () => forecaster.close()]);
      const replay = PriceReplay.open({
        file: resolvePriceFile(settings.sim.priceFile, dataDir()),
        startDate: settings.sim.priceStartDate,
        stateFile: path.join(settings.userDir, 'price-replay.json'),
        nowMs: meterNow,
        forecaster,
      });
      priceReplay = replay;
      let lastHour = -1;
      const unsubscribePrices = meter.subscribe((reading) => {
        const hour = Math.floor(Date.parse(reading.timestamp) / 3_600_000);
        if (!Number.isFinite(hour) || hour === lastHour) return;
        lastHour = hour;
        void replay
          .hourPrice(hour * 3_600_000)
          .then((p) => ledger.recordPrice(new Date(hour * 3_600_000), p))
          .catch((err: Error) =>
            log.warn(`prices: hour ${new Date(hour * 3_600_000).toISOString()}: ${err.message}`),
          );
        // Home Assistant's price sensors (and anyone else on the topic contract), once an hour, retained.
        if (client.connected)
          void replay
            .prices()
            .then((feed) =>
              client.publishAsync(
                hepekTopics(serial).price,
                JSON.stringify(pricePayload(feed, Date.parse(reading.timestamp))),
                { qos: 1, retain: true },
              ),
            )
            .catch((err: Error) => log.warn(`prices: the price topic: ${err.message}`));
      });
      cleanup.push(['price replay', unsubscribePrices]);
      log.info(
        `prices: replaying ${settings.sim.priceFile}${forecaster ? `, forecast by ${forecaster.card.name}` : ''}`,
      );
    }
    // The channel as the DApp shows it: the payer's own books (the newest acknowledged voucher).
    const payer = money?.payer ?? null;
    const hubAddress = money?.hubAddress ?? '';
    const dappChannel = payer
      ? (): ChannelInfo | null => {
          const p = payer.state();
          return {
            channelId: p.channelId,
            hub: hubAddress,
            depositWei: p.depositWei,
            spentWei: p.ackedAmountWei,
            remainingWei: p.unspentWei,
            cycles: p.cycle,
            billedImportWh: p.billedImportWh,
            pending: p.pending.length,
            lastRefusal: p.lastRefusal ? `${p.lastRefusal.code}: ${p.lastRefusal.reason}` : null,
          };
        }
      : undefined;
    const dapp = startDapp(settings, chain, context, accounts, {
      purchase: dappPurchase,
      prices: priceReplay,
      ...(dappChannel ? { channel: dappChannel } : {}),
      ...(deployed.record ? { deployedAtBlock: deployed.record.deployedAtBlock } : {}),
    });
    cleanup.push(['dapp', () => dapp.stop()]);

    meter.start();
    const nodeRed: EmbeddedNodeRed = await startNodeRed({
      userDir: path.join(settings.userDir, 'node-red'),
      host: settings.nodeRed.host,
      port: settings.nodeRed.port,
      firstFlow,
      adminAuth: settings.nodeRed.adminAuth,
      credentialSecret: loadOrCreateSecret(path.join(keysDir, 'node-red-credential-secret')),
      logLevel: settings.log.level,
      routes: { '/hepek/status': status },
      httpRoutes: dapp.routes,
      rawRoutes: purchases ? [purchases.route] : [],
      log: log.info,
    });
    cleanup.push(['node-red', () => nodeRed.stop()]);

    log.info(`editor ${nodeRed.url} · broker ${brokerUrl} · ${chain.label}`);
    let stopped: Promise<void> | null = null;
    return {
      settings,
      context,
      editorUrl: nodeRed.url,
      brokerUrl,
      chainLabel: chain.label,
      status,
      stop() {
        stopped ??= unwind(cleanup, log).then(() => log.info('stopped'));
        return stopped;
      },
    };
  } catch (err) {
    await unwind(cleanup, log);
    throw err;
  }
}
