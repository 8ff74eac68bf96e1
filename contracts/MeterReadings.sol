// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IErgonToken} from "./interfaces/IErgonToken.sol";
import {IGatewayRegistry} from "./interfaces/IGatewayRegistry.sol";

/**
 * @title MeterReadings
 * @author HEPEK
 * @notice Device-signed meter readings with export rewards and carbon credits. Anyone (normally the
 * hub) relays EIP-712 `Reading`s signed by a registered, active, claimed device. A device's first
 * reading sets its baseline; each later one must carry a higher `seq`, a timestamp after the last one
 * and not after the block, non-decreasing counters and an export delta no larger than the rated
 * export power × elapsed time. Export of prosumer and generator devices accrues an ERGON reward
 * (delta × export rate) and carbon credits (delta × grid emission factor) per device; the owner
 * claims the reward to the HEPEK wallet (the device key's address) in one transaction.
 *
 * Units: energy in Wh; the export rate in ERGON base units (1e-18 ERGON) per Wh; carbon credits in
 * milligrams CO2e — a fixed-point number with 6 decimals of the credit unit, 1 credit = 1 kg CO2e =
 * 1e6 — so that delta Wh × factor (mg CO2e per Wh, numerically g per kWh) is exact.
 *
 * Market hook: the EnergyMarket (holder of {MARKET_ROLE}) calls {markSold} when it sells Wh of a
 * device's future export. The next exported Wh of that device settle the sale first: they earn no
 * export reward (the buyer pays for them) and their carbon credits go to the sale's beneficiary
 * account, not to the device. {releaseSold} cancels what was not delivered. The market proves
 * delivery with {checkpointOf} at the window edges.
 * @dev Per-device state is one slot ({DeviceAccount}) plus a ring of {CHECKPOINTS} one-slot
 * checkpoints indexed by `seq % CHECKPOINTS`; the latest reading is the checkpoint of `lastSeq`.
 * In steady state a reading reads two slots and rewrites two nonzero slots.
 */
contract MeterReadings is AccessControl, EIP712 {
    using SafeCast for uint256;

    /**
     * @notice A reading as relayed: the EIP-712 fields and the device's EIP-2098 compact signature.
     * @param deviceId The device (keccak256 of its serial).
     * @param seq The device's reading sequence number; strictly increasing.
     * @param timestamp When the meter was read, unix seconds.
     * @param importWh Cumulative imported energy, Wh.
     * @param exportWh Cumulative exported energy, Wh.
     * @param batteryPermille Battery state of charge, ‰ (0–1000); recorded in the event only.
     * @param r Signature `r`.
     * @param vs Signature `s` with the y-parity in its top bit (EIP-2098).
     */
    struct SignedReading {
        bytes32 deviceId;
        uint64 seq;
        uint64 timestamp;
        uint64 importWh;
        uint64 exportWh;
        uint16 batteryPermille;
        bytes32 r;
        bytes32 vs;
    }

    /**
     * @notice One accepted reading as kept on chain (one slot).
     * @param seq The reading's sequence number.
     * @param timestamp Unix seconds (fits 40 bits: never after the block time).
     * @param importWh Cumulative imported energy, Wh.
     * @param exportWh Cumulative exported energy, Wh.
     */
    struct Checkpoint {
        uint64 seq;
        uint40 timestamp;
        uint64 importWh;
        uint64 exportWh;
    }

    /**
     * @notice Per-device accruals and the pointer to the latest checkpoint (one slot).
     * @param accruedWei Unclaimed ERGON reward, base units.
     * @param carbonMg Unretired carbon credits, mg CO2e.
     * @param lastSeq `seq` of the latest accepted reading.
     * @param hasBaseline Whether the first reading arrived.
     * @param hasSale Whether {markSold} left Wh to settle (saves reading the sale slot otherwise).
     */
    struct DeviceAccount {
        uint96 accruedWei;
        uint64 carbonMg;
        uint64 lastSeq;
        bool hasBaseline;
        bool hasSale;
    }

    /**
     * @notice Wh of a device sold on the market and not yet exported (one slot).
     * @param pendingWh Wh still to be exported for the sale.
     * @param beneficiary The account that receives the carbon credits of those Wh.
     */
    struct Sale {
        uint64 pendingWh;
        address beneficiary;
    }

    /**
     * @notice Export of a device held back from the reward while it has market offers (one slot).
     * @param heldWh Wh exported since the hold began and not yet sold or released.
     * @param holds Offers of the device still holding ({holdExport} minus {releaseHold}).
     */
    struct Hold {
        uint64 heldWh;
        uint32 holds;
    }

    /// @notice Why a reading was refused; the `reason` of {ReadingRejected}.
    enum Rejection {
        None,
        InvalidSignature,
        InvalidSigner,
        DeviceNotActive,
        BatteryOutOfRange,
        SeqNotIncreasing,
        TimestampNotAfterLast,
        TimestampInFuture,
        ImportDecreased,
        ExportDecreased,
        ExportAboveRated
    }

    uint256 private constant _U64 = type(uint64).max;
    uint256 private constant _U96 = type(uint96).max;
    uint256 private constant _CARBON_SHIFT = 96;
    uint256 private constant _SEQ_SHIFT = 160;
    uint256 private constant _BASELINE_BIT = 1 << 224;
    uint256 private constant _SALE_BIT = 1 << 225;
    uint256 private constant _HOLD_BIT = 1 << 226;
    uint256 private constant _TIMESTAMP_SHIFT = 64;
    uint256 private constant _IMPORT_SHIFT = 104;
    uint256 private constant _EXPORT_SHIFT = 168;

    /// @notice Role allowed to set the export rate and the emission factor.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    /// @notice Role of the EnergyMarket: may mark a device's Wh as sold ({markSold}, {releaseSold}).
    bytes32 public constant MARKET_ROLE = keccak256("MARKET_ROLE");

    /// @notice EIP-712 type hash of the `Reading` struct.
    bytes32 public constant READING_TYPEHASH =
        keccak256(
            "Reading(bytes32 deviceId,uint64 seq,uint64 timestamp,uint64 importWh,uint64 exportWh,uint16 batteryPermille)"
        );

    /// @notice Checkpoints kept per device: a day of 15-minute readings.
    uint256 public constant CHECKPOINTS = 96;

    /// @notice The registry that knows each device's key, owner, mode and rated power.
    IGatewayRegistry public immutable REGISTRY;

    /// @notice ERGON; this contract needs its MINTER_ROLE to pay rewards.
    IErgonToken public immutable TOKEN;

    // Reward per exported Wh, ERGON base units; shares a slot with the emission factor.
    uint96 private _exportRateWeiPerWh;
    // Grid emission factor, mg CO2e per Wh (= g CO2e per kWh).
    uint64 private _emissionFactorMgPerWh;

    // The hot state is kept as packed words and read and written whole (one SLOAD and one SSTORE
    // each per reading); the views decode them into {DeviceAccount} and {Checkpoint}.
    // Account word, low to high bits: accruedWei 96 | carbonMg 64 | lastSeq 64 | hasBaseline | hasSale.
    mapping(bytes32 deviceId => uint256 word) private _accounts;
    // Checkpoint word, low to high bits: seq 64 | timestamp 40 | importWh 64 | exportWh 64.
    mapping(bytes32 deviceId => uint256[CHECKPOINTS] ring) private _checkpoints;
    mapping(bytes32 deviceId => Sale sale) private _sales;
    mapping(bytes32 deviceId => Hold hold) private _holds;
    // Carbon credits held by accounts (sale beneficiaries), mg CO2e.
    mapping(address account => uint256 carbonMg) private _carbonOfAccount;

    /**
     * @notice Emitted for every accepted reading, the baseline included. Kept to one data word on
     * purpose (every reading pays for it): the counters are in {checkpointOf}, the rest in the calldata.
     * @param deviceId The device.
     * @param seq The reading's sequence number.
     */
    event ReadingAccepted(bytes32 indexed deviceId, uint64 seq);

    /**
     * @notice Emitted for every refused reading of a batch (which goes on with the next one).
     * @param deviceId The device the reading names.
     * @param seq The reading's sequence number.
     * @param reason Why it was refused.
     */
    event ReadingRejected(bytes32 indexed deviceId, uint64 seq, Rejection reason);

    /**
     * @notice Emitted after the owner claimed a device's accrued reward.
     * @param deviceId The device.
     * @param wallet The HEPEK wallet (device key address) that received it.
     * @param amount ERGON base units minted.
     */
    event RewardsClaimed(bytes32 indexed deviceId, address indexed wallet, uint256 amount);

    /**
     * @notice Emitted after the owner retired carbon credits of a device.
     * @param deviceId The device.
     * @param owner The owner who retired them.
     * @param amountMg Retired credits, mg CO2e.
     */
    event CarbonRetired(bytes32 indexed deviceId, address indexed owner, uint256 amountMg);

    /**
     * @notice Emitted after an account retired carbon credits it holds.
     * @param account The account.
     * @param amountMg Retired credits, mg CO2e.
     */
    event AccountCarbonRetired(address indexed account, uint256 amountMg);

    /**
     * @notice Emitted after an account passed carbon credits on.
     * @param from The sender.
     * @param to The recipient.
     * @param amountMg Credits, mg CO2e.
     */
    event CarbonTransferred(address indexed from, address indexed to, uint256 amountMg);

    /**
     * @notice Emitted after the market marked Wh of a device as sold.
     * @param deviceId The device.
     * @param wh Wh added to the pending sale.
     * @param beneficiary The account that receives their carbon credits.
     */
    event EnergySold(bytes32 indexed deviceId, uint64 wh, address indexed beneficiary);

    /**
     * @notice Emitted after the market released undelivered sold Wh.
     * @param deviceId The device.
     * @param wh Wh released.
     */
    event SaleReleased(bytes32 indexed deviceId, uint64 wh);

    /**
     * @notice Emitted after the market began holding a device's export for one more offer.
     * @param deviceId The device.
     * @param holds Offers now holding.
     */
    event ExportHeld(bytes32 indexed deviceId, uint32 holds);

    /**
     * @notice Emitted after the market sold held Wh of a device to a buyer.
     * @param deviceId The seller's device.
     * @param wh Wh sold (no reward; their carbon credits went to `beneficiary`).
     * @param beneficiary The buyer.
     */
    event HeldExportSold(bytes32 indexed deviceId, uint64 wh, address indexed beneficiary);

    /**
     * @notice Emitted after an offer stopped holding a device's export.
     * @param deviceId The device.
     * @param holds Offers still holding.
     * @param rewardedWh Held Wh accrued as reward and device credits now (nonzero only when `holds` is 0).
     */
    event HoldReleased(bytes32 indexed deviceId, uint32 holds, uint64 rewardedWh);

    /**
     * @notice Emitted after the operator changed the export rate.
     * @param weiPerWh The new rate, ERGON base units per Wh.
     */
    event ExportRateSet(uint96 weiPerWh);

    /**
     * @notice Emitted after the operator changed the emission factor.
     * @param mgPerWh The new factor, mg CO2e per Wh.
     */
    event EmissionFactorSet(uint64 mgPerWh);

    /**
     * @notice The admin passed to the constructor is the zero address.
     * @param admin The rejected admin.
     */
    error ReadingsInvalidAdmin(address admin);

    /**
     * @notice A contract address passed to the constructor has no code.
     * @param target The rejected address.
     */
    error ReadingsInvalidContract(address target);

    /**
     * @notice The signature is malformed or high-s.
     * @param deviceId The device.
     * @param seq The reading's sequence number.
     */
    error ReadingsInvalidSignature(bytes32 deviceId, uint64 seq);

    /**
     * @notice The reading was not signed by the current device key.
     * @param deviceId The device.
     * @param signer The recovered signer.
     * @param key The device key.
     */
    error ReadingsInvalidSigner(bytes32 deviceId, address signer, address key);

    /**
     * @notice The device is unknown, revoked or unclaimed.
     * @param deviceId The device.
     */
    error ReadingsDeviceNotActive(bytes32 deviceId);

    /**
     * @notice The battery state of charge is above 1000 ‰.
     * @param deviceId The device.
     * @param batteryPermille The value.
     */
    error ReadingsBatteryOutOfRange(bytes32 deviceId, uint16 batteryPermille);

    /**
     * @notice The sequence number is not above the last accepted one (a replay or a stale reading).
     * @param deviceId The device.
     * @param seq The reading's sequence number.
     * @param lastSeq The last accepted one.
     */
    error ReadingsSeqNotIncreasing(bytes32 deviceId, uint64 seq, uint64 lastSeq);

    /**
     * @notice The timestamp is not after the last accepted reading's (0 before the baseline).
     * @param deviceId The device.
     * @param timestamp The reading's timestamp.
     * @param lastTimestamp The last accepted one.
     */
    error ReadingsTimestampNotAfterLast(bytes32 deviceId, uint64 timestamp, uint64 lastTimestamp);

    /**
     * @notice The timestamp is after the block's.
     * @param deviceId The device.
     * @param timestamp The reading's timestamp.
     * @param blockTimestamp The block's timestamp.
     */
    error ReadingsTimestampInFuture(bytes32 deviceId, uint64 timestamp, uint256 blockTimestamp);

    /**
     * @notice The import counter went down.
     * @param deviceId The device.
     * @param importWh The reading's counter.
     * @param lastImportWh The last accepted counter.
     */
    error ReadingsImportDecreased(bytes32 deviceId, uint64 importWh, uint64 lastImportWh);

    /**
     * @notice The export counter went down.
     * @param deviceId The device.
     * @param exportWh The reading's counter.
     * @param lastExportWh The last accepted counter.
     */
    error ReadingsExportDecreased(bytes32 deviceId, uint64 exportWh, uint64 lastExportWh);

    /**
     * @notice More export than the rated power allows in the elapsed time.
     * @param deviceId The device.
     * @param exportedWh Export since the last reading.
     * @param maxWh ratedExportW × elapsed seconds / 3600.
     */
    error ReadingsExportAboveRated(bytes32 deviceId, uint64 exportedWh, uint256 maxWh);

    /**
     * @notice The caller is not the device's owner.
     * @param deviceId The device.
     * @param caller The caller.
     * @param owner The owner.
     */
    error ReadingsNotOwner(bytes32 deviceId, address caller, address owner);

    /**
     * @notice There is nothing to claim.
     * @param deviceId The device.
     */
    error ReadingsNothingToClaim(bytes32 deviceId);

    /**
     * @notice Fewer carbon credits than asked for.
     * @param deviceId The device (zero for an account's own credits).
     * @param holder The device owner or the account.
     * @param balanceMg The credits available.
     * @param neededMg The credits asked for.
     */
    error ReadingsInsufficientCarbon(bytes32 deviceId, address holder, uint256 balanceMg, uint256 neededMg);

    /**
     * @notice An amount of zero, or a zero address, where a real one is needed.
     * @param field The argument's name.
     */
    error ReadingsInvalidArgument(string field);

    /**
     * @notice The device already has a pending sale for another beneficiary.
     * @param deviceId The device.
     * @param pendingBeneficiary The pending sale's beneficiary.
     * @param beneficiary The beneficiary asked for.
     */
    error ReadingsSaleBeneficiaryMismatch(bytes32 deviceId, address pendingBeneficiary, address beneficiary);

    /**
     * @notice More Wh released than are pending.
     * @param deviceId The device.
     * @param wh Wh to release.
     * @param pendingWh Wh pending.
     */
    error ReadingsReleaseExceedsPending(bytes32 deviceId, uint64 wh, uint64 pendingWh);

    /**
     * @notice No checkpoint of this reading is kept (never accepted, or older than the ring).
     * @param deviceId The device.
     * @param seq The reading's sequence number.
     */
    error ReadingsNoCheckpoint(bytes32 deviceId, uint64 seq);

    /**
     * @notice More Wh sold from a device's held export than are held.
     * @param deviceId The device.
     * @param wh Wh to sell.
     * @param heldWh Wh held.
     */
    error ReadingsSaleExceedsHeld(bytes32 deviceId, uint64 wh, uint64 heldWh);

    /**
     * @notice {releaseHold} without a matching {holdExport}.
     * @param deviceId The device.
     */
    error ReadingsNoHold(bytes32 deviceId);

    /**
     * @notice Deploys the contract; the admin then grants {OPERATOR_ROLE} and {MARKET_ROLE}, and the
     * token admin grants this contract MINTER_ROLE.
     * @param admin Account administering the roles.
     * @param registry_ The GatewayRegistry.
     * @param token_ ERGON.
     * @param exportRateWeiPerWh Initial reward per exported Wh, ERGON base units.
     * @param emissionFactorMgPerWh Initial grid emission factor, mg CO2e per Wh.
     */
    constructor(
        address admin,
        IGatewayRegistry registry_,
        IErgonToken token_,
        uint96 exportRateWeiPerWh,
        uint64 emissionFactorMgPerWh
    ) EIP712("HEPEK MeterReadings", "1") {
        if (admin == address(0)) revert ReadingsInvalidAdmin(admin);
        if (address(registry_).code.length == 0) revert ReadingsInvalidContract(address(registry_));
        if (address(token_).code.length == 0) revert ReadingsInvalidContract(address(token_));
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        REGISTRY = registry_;
        TOKEN = token_;
        _exportRateWeiPerWh = exportRateWeiPerWh;
        _emissionFactorMgPerWh = emissionFactorMgPerWh;
    }

    /**
     * @notice Submits one reading; reverts with a custom error carrying the offending values if it
     * is refused. Anyone may submit.
     * @dev Emits {ReadingAccepted}.
     * @param reading The signed reading.
     */
    function submitReading(SignedReading calldata reading) external {
        (Rejection why, uint256 got, uint256 limit) = _process(reading);
        if (why != Rejection.None) _revertWith(why, reading, got, limit);
    }

    /**
     * @notice Submits readings of any devices; a refused entry is skipped with {ReadingRejected}
     * and the batch goes on. Anyone may submit.
     * @param readings The signed readings, processed in order.
     * @return accepted How many were accepted.
     */
    function submitReadings(SignedReading[] calldata readings) external returns (uint256 accepted) {
        uint256 n = readings.length;
        uint256 freeMemory;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            freeMemory := mload(0x40)
        }
        for (uint256 i = 0; i < n; ) {
            SignedReading memory reading = readings[i];
            (Rejection why, , ) = _process(reading);
            if (why == Rejection.None) ++accepted;
            else emit ReadingRejected(reading.deviceId, reading.seq, why);
            // Nothing allocated for one reading is used by the next: hand its memory back, so a batch
            // does not pay the quadratic memory expansion cost of every reading's scratch space.
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                mstore(0x40, freeMemory)
            }
            // Cannot overflow: i < n.
            unchecked {
                ++i;
            }
        }
    }

    /**
     * @notice Mints a device's accrued reward to its HEPEK wallet (the device key's address).
     * @dev Only the device's owner, while the device is active. Emits {RewardsClaimed}.
     * @param deviceId The device.
     */
    function claimRewards(bytes32 deviceId) external {
        (address wallet, , , bool activeClaimed) = REGISTRY.deviceCore(deviceId);
        if (!activeClaimed) revert ReadingsDeviceNotActive(deviceId);
        address owner = REGISTRY.ownerOf(deviceId);
        if (msg.sender != owner) revert ReadingsNotOwner(deviceId, msg.sender, owner);
        uint256 account = _accounts[deviceId];
        uint256 amount = account & _U96;
        if (amount == 0) revert ReadingsNothingToClaim(deviceId);
        _accounts[deviceId] = account & ~_U96;
        emit RewardsClaimed(deviceId, wallet, amount);
        TOKEN.mint(wallet, amount);
    }

    /**
     * @notice Retires carbon credits a device accrued, like an ERC-1888 certificate claim.
     * @dev Only the device's owner. Emits {CarbonRetired}.
     * @param deviceId The device.
     * @param amountMg Credits to retire, mg CO2e (1 kg = 1e6).
     */
    function retireCarbon(bytes32 deviceId, uint64 amountMg) external {
        if (amountMg == 0) revert ReadingsInvalidArgument("amountMg");
        address owner = REGISTRY.ownerOf(deviceId);
        if (msg.sender != owner) revert ReadingsNotOwner(deviceId, msg.sender, owner);
        uint256 account = _accounts[deviceId];
        uint256 balance = (account >> _CARBON_SHIFT) & _U64;
        if (amountMg > balance) revert ReadingsInsufficientCarbon(deviceId, owner, balance, amountMg);
        // Cannot underflow: checked just above; the difference stays inside the carbon field.
        unchecked {
            _accounts[deviceId] = account - (uint256(amountMg) << _CARBON_SHIFT);
        }
        emit CarbonRetired(deviceId, owner, amountMg);
    }

    /**
     * @notice Retires carbon credits the caller holds as a sale beneficiary.
     * @dev Emits {AccountCarbonRetired}.
     * @param amountMg Credits to retire, mg CO2e.
     */
    function retireAccountCarbon(uint256 amountMg) external {
        _debitAccountCarbon(msg.sender, amountMg);
        emit AccountCarbonRetired(msg.sender, amountMg);
    }

    /**
     * @notice Passes carbon credits the caller holds to another account (e.g. the market to buyers).
     * @dev Emits {CarbonTransferred}.
     * @param to The recipient.
     * @param amountMg Credits, mg CO2e.
     */
    function transferCarbon(address to, uint256 amountMg) external {
        if (to == address(0)) revert ReadingsInvalidArgument("to");
        _debitAccountCarbon(msg.sender, amountMg);
        _carbonOfAccount[to] += amountMg;
        emit CarbonTransferred(msg.sender, to, amountMg);
    }

    /**
     * @notice Marks `wh` of the device's next export as sold: they earn no export reward and their
     * carbon credits go to `beneficiary`. One beneficiary per device at a time (the market may name
     * itself and pass the credits on with {transferCarbon}).
     * @dev Only {MARKET_ROLE}. Emits {EnergySold}.
     * @param deviceId The seller's device.
     * @param wh Wh sold.
     * @param beneficiary Receives the carbon credits of the sold Wh.
     */
    function markSold(bytes32 deviceId, uint64 wh, address beneficiary) external onlyRole(MARKET_ROLE) {
        if (wh == 0) revert ReadingsInvalidArgument("wh");
        if (beneficiary == address(0)) revert ReadingsInvalidArgument("beneficiary");
        Sale storage sale = _sales[deviceId];
        uint64 pending = sale.pendingWh;
        if (pending != 0 && sale.beneficiary != beneficiary)
            revert ReadingsSaleBeneficiaryMismatch(deviceId, sale.beneficiary, beneficiary);
        sale.pendingWh = pending + wh;
        sale.beneficiary = beneficiary;
        _accounts[deviceId] |= _SALE_BIT;
        emit EnergySold(deviceId, wh, beneficiary);
    }

    /**
     * @notice Cancels `wh` of a device's pending sale (not delivered in its window).
     * @dev Only {MARKET_ROLE}. Emits {SaleReleased}.
     * @param deviceId The device.
     * @param wh Wh to release.
     */
    function releaseSold(bytes32 deviceId, uint64 wh) external onlyRole(MARKET_ROLE) {
        Sale storage sale = _sales[deviceId];
        uint64 pending = sale.pendingWh;
        if (wh == 0) revert ReadingsInvalidArgument("wh");
        if (wh > pending) revert ReadingsReleaseExceedsPending(deviceId, wh, pending);
        // Cannot underflow: checked just above.
        unchecked {
            sale.pendingWh = pending - wh;
        }
        if (pending == wh) _accounts[deviceId] &= ~_SALE_BIT;
        emit SaleReleased(deviceId, wh);
    }

    /**
     * @notice Holds the device's export back from the reward for one more market offer: from now on
     * its exported Wh accrue to the held pool instead of reward and device credits, until every
     * offer released its hold. The market calls it when an offer is listed, so every Wh a delivery
     * proof can count (readings after listing) is held and can be sold exactly once.
     * @dev Only {MARKET_ROLE}. Emits {ExportHeld}.
     * @param deviceId The seller's device.
     */
    function holdExport(bytes32 deviceId) external onlyRole(MARKET_ROLE) {
        Hold storage hold = _holds[deviceId];
        uint32 holds = hold.holds + 1;
        hold.holds = holds;
        _accounts[deviceId] |= _HOLD_BIT;
        emit ExportHeld(deviceId, holds);
    }

    /**
     * @notice Sells `wh` of the device's held export to `beneficiary`: they never earn the export
     * reward (the buyer paid for them) and their carbon credits go to the buyer's account.
     * @dev Only {MARKET_ROLE}. Emits {HeldExportSold}.
     * @param deviceId The seller's device.
     * @param wh Wh delivered to the buyer.
     * @param beneficiary The buyer.
     */
    function sellHeld(bytes32 deviceId, uint64 wh, address beneficiary) external onlyRole(MARKET_ROLE) {
        if (wh == 0) revert ReadingsInvalidArgument("wh");
        if (beneficiary == address(0)) revert ReadingsInvalidArgument("beneficiary");
        Hold storage hold = _holds[deviceId];
        uint64 held = hold.heldWh;
        if (wh > held) revert ReadingsSaleExceedsHeld(deviceId, wh, held);
        // Cannot underflow: checked just above.
        unchecked {
            hold.heldWh = held - wh;
        }
        _carbonOfAccount[beneficiary] += uint256(wh) * _emissionFactorMgPerWh;
        emit HeldExportSold(deviceId, wh, beneficiary);
    }

    /**
     * @notice Ends one offer's hold. When the last hold ends, the held Wh nobody bought accrue the
     * export reward and carbon credits as usual (at the rate and factor of now).
     * @dev Only {MARKET_ROLE}. Emits {HoldReleased}.
     * @param deviceId The seller's device.
     */
    function releaseHold(bytes32 deviceId) external onlyRole(MARKET_ROLE) {
        Hold storage hold = _holds[deviceId];
        uint32 holds = hold.holds;
        if (holds == 0) revert ReadingsNoHold(deviceId);
        // Cannot underflow: checked just above.
        unchecked {
            --holds;
        }
        hold.holds = holds;
        uint64 rewardedWh = 0;
        if (holds == 0) {
            rewardedWh = hold.heldWh;
            hold.heldWh = 0;
            uint256 account = _accounts[deviceId] & ~_HOLD_BIT;
            if (rewardedWh != 0) {
                (, , IGatewayRegistry.DeviceMode mode, ) = REGISTRY.deviceCore(deviceId);
                account = _accrue(deviceId, account, rewardedWh, mode);
            }
            _accounts[deviceId] = account;
        }
        emit HoldReleased(deviceId, holds, rewardedWh);
    }

    /**
     * @notice Sets the reward per exported Wh.
     * @dev Only {OPERATOR_ROLE}. Emits {ExportRateSet}.
     * @param weiPerWh ERGON base units per Wh (1 ERGON per kWh = 1e15).
     */
    function setExportRate(uint96 weiPerWh) external onlyRole(OPERATOR_ROLE) {
        _exportRateWeiPerWh = weiPerWh;
        emit ExportRateSet(weiPerWh);
    }

    /**
     * @notice Sets the grid emission factor.
     * @dev Only {OPERATOR_ROLE}. Emits {EmissionFactorSet}.
     * @param mgPerWh mg CO2e per Wh (numerically g CO2e per kWh).
     */
    function setEmissionFactor(uint64 mgPerWh) external onlyRole(OPERATOR_ROLE) {
        _emissionFactorMgPerWh = mgPerWh;
        emit EmissionFactorSet(mgPerWh);
    }

    /**
     * @notice The reward per exported Wh.
     * @return ERGON base units per Wh.
     */
    function exportRate() external view returns (uint96) {
        return _exportRateWeiPerWh;
    }

    /**
     * @notice The grid emission factor.
     * @return mg CO2e per Wh.
     */
    function emissionFactor() external view returns (uint64) {
        return _emissionFactorMgPerWh;
    }

    /**
     * @notice A device's accruals and latest sequence number.
     * @param deviceId The device.
     * @return The device's account.
     */
    function accountOf(bytes32 deviceId) external view returns (DeviceAccount memory) {
        uint256 word = _accounts[deviceId];
        return
            DeviceAccount({
                accruedWei: uint96(word),
                carbonMg: uint64(word >> _CARBON_SHIFT),
                lastSeq: uint64(word >> _SEQ_SHIFT),
                hasBaseline: word & _BASELINE_BIT != 0,
                hasSale: word & _SALE_BIT != 0
            });
    }

    /**
     * @notice The latest accepted reading of a device.
     * @param deviceId The device.
     * @return The checkpoint; reverts with {ReadingsNoCheckpoint} before the baseline.
     */
    function latestOf(bytes32 deviceId) external view returns (Checkpoint memory) {
        uint256 account = _accounts[deviceId];
        if (account & _BASELINE_BIT == 0) revert ReadingsNoCheckpoint(deviceId, 0);
        return _decode(_checkpoints[deviceId][uint64(account >> _SEQ_SHIFT) % CHECKPOINTS]);
    }

    /**
     * @notice A device's counters at an accepted reading, for the market's delivery proof: export
     * between two readings is the difference of their `exportWh`.
     * @dev Kept for the last readings only: a reading is overwritten by the next one whose seq is
     * congruent modulo {CHECKPOINTS} (with consecutive seqs, the last 96 readings).
     * @param deviceId The device.
     * @param seq The reading's sequence number.
     * @return The checkpoint; reverts with {ReadingsNoCheckpoint} if it is not kept.
     */
    function checkpointOf(bytes32 deviceId, uint64 seq) external view returns (Checkpoint memory) {
        Checkpoint memory checkpoint = _decode(_checkpoints[deviceId][seq % CHECKPOINTS]);
        // Accepted readings have a nonzero timestamp, so an empty slot never matches seq 0.
        if (checkpoint.seq != seq || checkpoint.timestamp == 0) revert ReadingsNoCheckpoint(deviceId, seq);
        return checkpoint;
    }

    /**
     * @notice A device's pending sale.
     * @param deviceId The device.
     * @return The Wh still to export for it and the beneficiary of their carbon credits.
     */
    function saleOf(bytes32 deviceId) external view returns (Sale memory) {
        return _sales[deviceId];
    }

    /**
     * @notice A device's held export.
     * @param deviceId The device.
     * @return The held Wh and how many offers hold them.
     */
    function holdOf(bytes32 deviceId) external view returns (Hold memory) {
        return _holds[deviceId];
    }

    /**
     * @notice Carbon credits an account holds as a sale beneficiary.
     * @param account The account.
     * @return mg CO2e.
     */
    function carbonOfAccount(address account) external view returns (uint256) {
        return _carbonOfAccount[account];
    }

    /**
     * @notice The EIP-712 domain separator readings are signed for.
     * @return The domain separator.
     */
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /**
     * @dev Checks a reading and, if it passes, records it. Returns `None` on success, else the reason
     * with the offending value and its limit (for the single-submission error). Never reverts on a
     * bad reading, so a batch goes on.
     */
    function _process(SignedReading memory reading) private returns (Rejection, uint256, uint256) {
        (address key, uint32 ratedExportW, IGatewayRegistry.DeviceMode mode, bool activeClaimed) = REGISTRY
            .deviceCore(reading.deviceId);
        if (!activeClaimed) return (Rejection.DeviceNotActive, 0, 0);
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(_digest(reading), reading.r, reading.vs);
        if (err != ECDSA.RecoverError.NoError) return (Rejection.InvalidSignature, 0, 0);
        if (signer != key) return (Rejection.InvalidSigner, uint160(signer), uint160(key));
        if (reading.batteryPermille > 1000) return (Rejection.BatteryOutOfRange, reading.batteryPermille, 1000);
        if (reading.timestamp > block.timestamp)
            return (Rejection.TimestampInFuture, reading.timestamp, block.timestamp);
        return _record(reading, ratedExportW, mode);
    }

    /// @dev The checks against the device's last reading, then the bookkeeping; see {_process}.
    function _record(
        SignedReading memory reading,
        uint32 ratedExportW,
        IGatewayRegistry.DeviceMode mode
    ) private returns (Rejection, uint256, uint256) {
        bytes32 deviceId = reading.deviceId;
        uint256 account = _accounts[deviceId];
        uint64 exportedWh = 0;
        if (account & _BASELINE_BIT == 0) {
            if (reading.timestamp == 0) return (Rejection.TimestampNotAfterLast, 0, 0);
            account |= _BASELINE_BIT;
        } else {
            uint256 last = _checkpoints[deviceId][uint64(account >> _SEQ_SHIFT) % CHECKPOINTS];
            if (!(reading.seq > uint64(last))) return (Rejection.SeqNotIncreasing, reading.seq, uint64(last));
            uint256 lastTimestamp = uint40(last >> _TIMESTAMP_SHIFT);
            if (!(reading.timestamp > lastTimestamp))
                return (Rejection.TimestampNotAfterLast, reading.timestamp, lastTimestamp);
            uint256 lastImportWh = uint64(last >> _IMPORT_SHIFT);
            if (reading.importWh < lastImportWh) return (Rejection.ImportDecreased, reading.importWh, lastImportWh);
            uint64 lastExportWh = uint64(last >> _EXPORT_SHIFT);
            if (reading.exportWh < lastExportWh) return (Rejection.ExportDecreased, reading.exportWh, lastExportWh);
            // Cannot underflow: both checked just above.
            unchecked {
                exportedWh = reading.exportWh - lastExportWh;
                // Wh = W × s / 3600; compared multiplied out so no rounding lets a Wh through.
                uint256 maxWhTimes3600 = uint256(ratedExportW) * (reading.timestamp - lastTimestamp);
                if (uint256(exportedWh) * 3600 > maxWhTimes3600)
                    return (Rejection.ExportAboveRated, exportedWh, maxWhTimes3600 / 3600);
            }
            if (exportedWh != 0) account = _accrue(deviceId, account, exportedWh, mode);
        }

        _accounts[deviceId] = (account & ~(_U64 << _SEQ_SHIFT)) | (uint256(reading.seq) << _SEQ_SHIFT);
        // The timestamp fits 40 bits: it is not after the block time (checked before).
        _checkpoints[deviceId][reading.seq % CHECKPOINTS] =
            uint256(reading.seq) |
            (uint256(reading.timestamp) << _TIMESTAMP_SHIFT) |
            (uint256(reading.importWh) << _IMPORT_SHIFT) |
            (uint256(reading.exportWh) << _EXPORT_SHIFT);
        emit ReadingAccepted(deviceId, reading.seq);
        return (Rejection.None, 0, 0);
    }

    /**
     * @dev Settles a pending sale first (no reward, credits to its beneficiary), then accrues reward
     * and credits for the rest if the device is a prosumer or generator. Returns the new account word.
     */
    function _accrue(
        bytes32 deviceId,
        uint256 account,
        uint64 exportedWh,
        IGatewayRegistry.DeviceMode mode
    ) private returns (uint256) {
        // Both share a slot: one read.
        (uint256 rate, uint256 factor) = (_exportRateWeiPerWh, _emissionFactorMgPerWh);
        uint256 rewardableWh = exportedWh;
        if (account & _SALE_BIT != 0) {
            Sale storage sale = _sales[deviceId];
            uint64 pending = sale.pendingWh;
            uint64 soldWh = pending < exportedWh ? pending : exportedWh;
            // Cannot underflow: soldWh is the minimum of both.
            unchecked {
                sale.pendingWh = pending - soldWh;
                rewardableWh = exportedWh - soldWh;
            }
            if (pending == soldWh) account &= ~_SALE_BIT;
            _carbonOfAccount[sale.beneficiary] += uint256(soldWh) * factor;
        }
        if (rewardableWh == 0) return account;
        if (account & _HOLD_BIT != 0) {
            // Held for the market: sold to a buyer or rewarded when the last hold ends.
            _holds[deviceId].heldWh += rewardableWh.toUint64();
            return account;
        }
        if (mode == IGatewayRegistry.DeviceMode.Consumer) return account;
        // Checked: an absurd rate must revert rather than wrap the packed fields.
        uint256 accruedWei = (account & _U96) + rewardableWh * rate;
        uint256 carbonMg = ((account >> _CARBON_SHIFT) & _U64) + rewardableWh * factor;
        return
            (account & ~(_U96 | (_U64 << _CARBON_SHIFT))) |
            accruedWei.toUint96() |
            (uint256(carbonMg.toUint64()) << _CARBON_SHIFT);
    }

    /// @dev Unpacks a checkpoint word.
    function _decode(uint256 word) private pure returns (Checkpoint memory) {
        return
            Checkpoint({
                seq: uint64(word),
                timestamp: uint40(word >> _TIMESTAMP_SHIFT),
                importWh: uint64(word >> _IMPORT_SHIFT),
                exportWh: uint64(word >> _EXPORT_SHIFT)
            });
    }

    /// @dev The EIP-712 digest of a reading.
    function _digest(SignedReading memory reading) private view returns (bytes32) {
        bytes32 typeHash = READING_TYPEHASH;
        bytes32 structHash;
        // hashStruct = keccak256(typeHash ‖ the six signed fields), and in memory the six fields are
        // already the struct's first six words, each a clean 32-byte value: hash them in place, with
        // the type hash put in the word before the struct for the duration, instead of copying all
        // of them with abi.encode for every reading. The borrowed word is restored.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let start := sub(reading, 0x20)
            let saved := mload(start)
            mstore(start, typeHash)
            structHash := keccak256(start, 0xe0)
            mstore(start, saved)
        }
        return _hashTypedDataV4(structHash);
    }

    /// @dev Takes carbon credits from an account's balance.
    function _debitAccountCarbon(address holder, uint256 amountMg) private {
        if (amountMg == 0) revert ReadingsInvalidArgument("amountMg");
        uint256 balance = _carbonOfAccount[holder];
        if (amountMg > balance) revert ReadingsInsufficientCarbon(bytes32(0), holder, balance, amountMg);
        // Cannot underflow: checked just above.
        unchecked {
            _carbonOfAccount[holder] = balance - amountMg;
        }
    }

    /// @dev Reverts with the custom error of a refused single reading.
    function _revertWith(Rejection why, SignedReading memory reading, uint256 got, uint256 limit) private view {
        bytes32 id = reading.deviceId;
        if (why == Rejection.DeviceNotActive) revert ReadingsDeviceNotActive(id);
        if (why == Rejection.InvalidSignature) revert ReadingsInvalidSignature(id, reading.seq);
        if (why == Rejection.InvalidSigner)
            revert ReadingsInvalidSigner(id, address(uint160(got)), address(uint160(limit)));
        if (why == Rejection.BatteryOutOfRange) revert ReadingsBatteryOutOfRange(id, reading.batteryPermille);
        if (why == Rejection.TimestampInFuture) revert ReadingsTimestampInFuture(id, reading.timestamp, block.timestamp);
        if (why == Rejection.SeqNotIncreasing) revert ReadingsSeqNotIncreasing(id, reading.seq, uint64(limit));
        if (why == Rejection.TimestampNotAfterLast)
            revert ReadingsTimestampNotAfterLast(id, reading.timestamp, uint64(limit));
        if (why == Rejection.ImportDecreased) revert ReadingsImportDecreased(id, reading.importWh, uint64(limit));
        if (why == Rejection.ExportDecreased) revert ReadingsExportDecreased(id, reading.exportWh, uint64(limit));
        // The only reason left: ExportAboveRated.
        revert ReadingsExportAboveRated(id, uint64(got), limit);
    }
}
