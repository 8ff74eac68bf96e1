// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IGatewayRegistry} from "./interfaces/IGatewayRegistry.sol";
import {IMeterReadings} from "./interfaces/IMeterReadings.sol";

/**
 * @title EnergyMarket
 * @author HEPEK
 * @notice Peer-to-peer sale of a prosumer's or generator's coming export. The owner of a registered
 * device (or anyone relaying an EIP-712 `Offer` signed by its device key) lists Wh for a delivery
 * window at a price in ERGON base units per kWh; registered HEPEK wallets take all or part of it
 * before it expires (at the latest when the window starts), their ERGON held in escrow. After the
 * window anyone proves delivery with two of the device's accepted readings that bracket the window
 * within {TOLERANCE}; delivered = min(export between them, Wh taken). Then (or after {GRACE} without
 * a proof, delivered = 0) anyone settles each buyer: pro rata to delivered at the offer price, the
 * rest of the escrow refunded.
 *
 * Never the same Wh twice: a device's offers never have overlapping windows, and its proofs go in
 * window order (a proof's start reading is not before the previous proof's end reading), so no
 * exported Wh backs two proofs. From listing until its last buyer is settled an offer holds the
 * device's export in MeterReadings ({IMeterReadings-holdExport}); every reading a proof counts is
 * recorded after the listing (the window starts at least {TOLERANCE} after it), so every Wh paid by
 * a buyer is taken out of the held pool ({IMeterReadings-sellHeld}) — no export reward, its carbon
 * credits to the buyer — and the unsold rest earns the reward when the last hold ends.
 * @dev Units: energy in Wh, prices in ERGON base units per kWh (cost = Wh × price / 1000, rounded
 * down), times in unix seconds. Requires MeterReadings' MARKET_ROLE.
 */
contract EnergyMarket is EIP712 {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /**
     * @notice The terms of an offer as its seller signs them (EIP-712 `Offer`).
     * @param sellerDeviceId The device whose export is sold.
     * @param wattHours Wh offered.
     * @param pricePerKWh ERGON base units per kWh.
     * @param deliveryStart Window start, unix seconds.
     * @param deliveryEnd Window end, unix seconds.
     * @param expiry Last moment (exclusive) to take the offer; at most `deliveryStart`.
     * @param nonce The device's next market nonce ({nonces}); ignored by {list}.
     */
    // The field order is the EIP-712 type's (OFFER_TYPES in gateway/chain/typed-data.ts).
    // solhint-disable-next-line gas-struct-packing
    struct OfferTerms {
        bytes32 sellerDeviceId;
        uint64 wattHours;
        uint256 pricePerKWh;
        uint64 deliveryStart;
        uint64 deliveryEnd;
        uint64 expiry;
        uint256 nonce;
    }

    /**
     * @notice The terms a buyer signs (EIP-712 `Buy`): front-running can make a take fail, never
     * change its price or amount.
     * @param offerId The offer.
     * @param wattHours Exactly the Wh to take.
     * @param buyerWallet The HEPEK wallet that pays and is refunded and credited.
     * @param pricePerKWh The offer's price the buyer agrees to.
     * @param nonce The wallet's next buy nonce ({buyNonces}).
     * @param deadline The signature is void after this time (unix seconds).
     */
    // solhint-disable-next-line gas-struct-packing
    struct BuyTerms {
        uint256 offerId;
        uint64 wattHours;
        address buyerWallet;
        uint256 pricePerKWh;
        uint256 nonce;
        uint64 deadline;
    }

    /**
     * @notice An ERC-2612 permit for this contract as spender, EIP-2098 compact; `deadline == 0`
     * means "no permit": the existing allowance is used.
     * @param deadline The permit's deadline (unix seconds).
     * @param r The signature's r.
     * @param vs The signature's s with the y-parity in the top bit.
     */
    struct Permit {
        uint256 deadline;
        bytes32 r;
        bytes32 vs;
    }

    /**
     * @notice An offer as stored (four slots).
     * @param sellerDeviceId The seller's device.
     * @param sellerWallet The HEPEK wallet paid at settlement (the device key at listing).
     * @param wattHours Wh on offer: listed, less what was cancelled; never below `takenWh`.
     * @param openPositions Buyers not yet settled.
     * @param takenWh Wh taken by buyers.
     * @param deliveryStart Window start.
     * @param deliveryEnd Window end.
     * @param expiry Takes are accepted before this time.
     * @param deliveredWh Proven delivery: min(export between the readings, takenWh).
     * @param proven Whether delivery was proven.
     * @param pricePerKWh ERGON base units per kWh.
     */
    struct Offer {
        bytes32 sellerDeviceId;
        address sellerWallet;
        uint64 wattHours;
        uint32 openPositions;
        uint64 takenWh;
        uint40 deliveryStart;
        uint40 deliveryEnd;
        uint40 expiry;
        uint64 deliveredWh;
        bool proven;
        uint256 pricePerKWh;
    }

    /**
     * @notice A buyer's stake in an offer (one slot); zero once settled.
     * @param wattHours Wh taken.
     * @param escrow ERGON base units held.
     */
    struct Position {
        uint64 wattHours;
        uint192 escrow;
    }

    /**
     * @notice Where a device's last proof ended (one slot).
     * @param endTimestamp Timestamp of the last proof's end reading.
     * @param endSeq Its sequence number; the next proof may start at exactly this reading.
     */
    struct ProofMark {
        uint40 endTimestamp;
        uint64 endSeq;
    }

    /// @notice EIP-712 type hash of {OfferTerms}.
    bytes32 public constant OFFER_TYPEHASH =
        keccak256(
            "Offer(bytes32 sellerDeviceId,uint64 wattHours,uint256 pricePerKWh,uint64 deliveryStart,uint64 deliveryEnd,uint64 expiry,uint256 nonce)"
        );

    /// @notice EIP-712 type hash of a relayed cancel, signed by the device key.
    bytes32 public constant CANCEL_TYPEHASH = keccak256("Cancel(uint256 offerId,uint256 nonce)");

    /// @notice EIP-712 type hash of {BuyTerms}.
    bytes32 public constant BUY_TYPEHASH =
        keccak256(
            "Buy(uint256 offerId,uint64 wattHours,address buyerWallet,uint256 pricePerKWh,uint256 nonce,uint64 deadline)"
        );

    /// @notice The device registry.
    IGatewayRegistry public immutable REGISTRY;

    /// @notice MeterReadings: checkpoints for proofs, the export hold for rewards and credits.
    IMeterReadings public immutable READINGS;

    /// @notice ERGON.
    IERC20 public immutable TOKEN;

    /**
     * @notice How far (seconds) a proof's readings may lie outside the window: the start reading in
     * [start − TOLERANCE, start], the end reading in [end, end + TOLERANCE]. Also the least time
     * between listing and the window start. Typically one billing cycle.
     */
    uint64 public immutable TOLERANCE;

    /// @notice Seconds after the window end in which delivery may be proven.
    uint64 public immutable GRACE;

    uint256 private _offerCount;
    mapping(uint256 offerId => Offer offer) private _offers;
    mapping(uint256 offerId => mapping(address buyer => Position position)) private _positions;
    mapping(uint256 offerId => address[] buyers) private _buyers;
    // Offers of a device whose window may still overlap a new one; ended ones are pruned on listing.
    mapping(bytes32 deviceId => uint256[] offerIds) private _liveOffers;
    mapping(bytes32 deviceId => ProofMark mark) private _proofMarks;
    mapping(bytes32 deviceId => uint256 nonce) private _nonces;
    mapping(address wallet => uint256 nonce) private _buyNonces;

    /**
     * @notice Emitted after an offer was listed.
     * @param offerId The new offer.
     * @param sellerDeviceId The seller's device.
     * @param sellerWallet The HEPEK wallet paid at settlement.
     * @param wattHours Wh offered.
     * @param pricePerKWh ERGON base units per kWh.
     * @param deliveryStart Window start.
     * @param deliveryEnd Window end.
     * @param expiry Takes are accepted before this time.
     */
    event OfferListed(
        uint256 indexed offerId,
        bytes32 indexed sellerDeviceId,
        address indexed sellerWallet,
        uint64 wattHours,
        uint256 pricePerKWh,
        uint64 deliveryStart,
        uint64 deliveryEnd,
        uint64 expiry
    );

    /**
     * @notice Emitted after a buyer took (part of) an offer.
     * @param offerId The offer.
     * @param buyerWallet The buyer.
     * @param wattHours Wh taken.
     * @param escrow ERGON base units escrowed for them.
     */
    event OfferTaken(uint256 indexed offerId, address indexed buyerWallet, uint64 wattHours, uint256 escrow);

    /**
     * @notice Emitted after the untaken rest of an offer was withdrawn.
     * @param offerId The offer.
     * @param wattHours Wh withdrawn.
     */
    event OfferCancelled(uint256 indexed offerId, uint64 wattHours);

    /**
     * @notice Emitted after delivery was proven.
     * @param offerId The offer.
     * @param startSeq The reading at the window start.
     * @param endSeq The reading at the window end.
     * @param exportedWh Export between them.
     * @param deliveredWh min(exportedWh, Wh taken).
     */
    event DeliveryProven(
        uint256 indexed offerId,
        uint64 startSeq,
        uint64 endSeq,
        uint64 exportedWh,
        uint64 deliveredWh
    );

    /**
     * @notice Emitted after a buyer was settled.
     * @param offerId The offer.
     * @param buyerWallet The buyer.
     * @param deliveredWh Wh delivered to this buyer (pro rata).
     * @param paid ERGON base units paid to the seller.
     */
    event OfferSettled(uint256 indexed offerId, address indexed buyerWallet, uint64 deliveredWh, uint256 paid);

    /**
     * @notice Emitted after the unspent part of a buyer's escrow was returned.
     * @param offerId The offer.
     * @param buyerWallet The buyer.
     * @param amount ERGON base units refunded.
     */
    event EscrowRefunded(uint256 indexed offerId, address indexed buyerWallet, uint256 amount);

    /**
     * @notice A constructor address has no code.
     * @param target The address.
     */
    error MarketInvalidContract(address target);

    /**
     * @notice A tolerance or grace period of zero.
     * @param field The argument's name.
     */
    error MarketInvalidPeriod(string field);

    /**
     * @notice The device is unknown, revoked or unclaimed.
     * @param deviceId The device.
     */
    error MarketDeviceNotActive(bytes32 deviceId);

    /**
     * @notice The device is a consumer: only prosumers and generators sell.
     * @param deviceId The device.
     * @param mode Its mode.
     */
    error MarketDeviceNotSeller(bytes32 deviceId, IGatewayRegistry.DeviceMode mode);

    /**
     * @notice The caller is not the device's owner.
     * @param deviceId The device.
     * @param caller The caller.
     * @param owner The owner.
     */
    error MarketNotDeviceOwner(bytes32 deviceId, address caller, address owner);

    /**
     * @notice The signature is malformed or high-s.
     */
    error MarketInvalidSignature();

    /**
     * @notice The message was not signed by the expected key.
     * @param signer The recovered signer.
     * @param expected The device key or buyer wallet.
     */
    error MarketInvalidSigner(address signer, address expected);

    /**
     * @notice The message's nonce is not the next one.
     * @param nonce The nonce in the message.
     * @param expected The next nonce.
     */
    error MarketInvalidNonce(uint256 nonce, uint256 expected);

    /**
     * @notice Zero Wh or a zero price.
     * @param field The field.
     */
    error MarketInvalidAmount(string field);

    /**
     * @notice The window or expiry are inconsistent: not start < end, or not now < expiry ≤ start.
     * @param deliveryStart Window start.
     * @param deliveryEnd Window end.
     * @param expiry Expiry.
     */
    error MarketInvalidWindow(uint64 deliveryStart, uint64 deliveryEnd, uint64 expiry);

    /**
     * @notice The window starts less than {TOLERANCE} from now.
     * @param deliveryStart Window start.
     * @param earliest The earliest allowed start.
     */
    error MarketStartTooSoon(uint64 deliveryStart, uint256 earliest);

    /**
     * @notice The window overlaps one of the device's live offers.
     * @param deviceId The device.
     * @param offerId The other offer.
     * @param deliveryStart Its window start.
     * @param deliveryEnd Its window end.
     */
    error MarketWindowOverlap(bytes32 deviceId, uint256 offerId, uint64 deliveryStart, uint64 deliveryEnd);

    /**
     * @notice No such offer.
     * @param offerId The id.
     */
    error MarketUnknownOffer(uint256 offerId);

    /**
     * @notice The offer no longer takes buyers.
     * @param offerId The offer.
     * @param expiry Its expiry.
     */
    error MarketOfferExpired(uint256 offerId, uint64 expiry);

    /**
     * @notice The price the buyer agreed to is not the offer's.
     * @param offerId The offer.
     * @param pricePerKWh The buyer's price.
     * @param offerPricePerKWh The offer's.
     */
    error MarketPriceMismatch(uint256 offerId, uint256 pricePerKWh, uint256 offerPricePerKWh);

    /**
     * @notice More Wh asked for than are left.
     * @param offerId The offer.
     * @param wattHours Asked for.
     * @param availableWh Left.
     */
    error MarketInsufficientWh(uint256 offerId, uint64 wattHours, uint64 availableWh);

    /**
     * @notice The buyer is not a HEPEK wallet (the key of an active, claimed device).
     * @param buyerWallet The buyer.
     */
    error MarketBuyerNotMember(address buyerWallet);

    /**
     * @notice The seller's own wallet cannot buy its offer.
     * @param buyerWallet The buyer.
     */
    error MarketSelfTrade(address buyerWallet);

    /**
     * @notice A direct take must be sent by the buyer wallet itself.
     * @param caller The caller.
     * @param buyerWallet The buyer.
     */
    error MarketNotBuyer(address caller, address buyerWallet);

    /**
     * @notice The signed buy terms expired.
     * @param deadline Their deadline.
     */
    error MarketBuyExpired(uint64 deadline);

    /**
     * @notice The permit failed and the allowance does not cover the escrow.
     * @param owner The buyer.
     * @param allowance The allowance.
     * @param needed The escrow.
     */
    error MarketInsufficientAllowance(address owner, uint256 allowance, uint256 needed);

    /**
     * @notice Nothing untaken is left to cancel, or the caller may not cancel yet.
     * @param offerId The offer.
     */
    error MarketNothingToCancel(uint256 offerId);

    /**
     * @notice Nobody took the offer: there is nothing to prove.
     * @param offerId The offer.
     */
    error MarketNothingTaken(uint256 offerId);

    /**
     * @notice Delivery of this offer was already proven.
     * @param offerId The offer.
     */
    error MarketAlreadyProven(uint256 offerId);

    /**
     * @notice The window has not ended yet.
     * @param offerId The offer.
     * @param deliveryEnd Its end.
     */
    error MarketWindowNotOver(uint256 offerId, uint64 deliveryEnd);

    /**
     * @notice The grace period for proofs is over.
     * @param offerId The offer.
     * @param deadline deliveryEnd + GRACE.
     */
    error MarketProofTooLate(uint256 offerId, uint256 deadline);

    /**
     * @notice A proof reading lies outside its tolerance band.
     * @param offerId The offer.
     * @param seq The reading.
     * @param timestamp Its timestamp.
     * @param earliest The band's start.
     * @param latest The band's end.
     */
    error MarketReadingOutOfTolerance(
        uint256 offerId,
        uint64 seq,
        uint256 timestamp,
        uint256 earliest,
        uint256 latest
    );

    /**
     * @notice The start reading is before the device's previous proof ended (its Wh were counted).
     * @param offerId The offer.
     * @param startSeq The start reading.
     * @param provenUntil The previous proof's end timestamp.
     */
    error MarketProofOverlap(uint256 offerId, uint64 startSeq, uint256 provenUntil);

    /**
     * @notice The buyer has no unsettled position in the offer.
     * @param offerId The offer.
     * @param buyerWallet The buyer.
     */
    error MarketNothingToSettle(uint256 offerId, address buyerWallet);

    /**
     * @notice Not settleable yet: neither proven nor past the grace period.
     * @param offerId The offer.
     * @param proofDeadline deliveryEnd + GRACE.
     */
    error MarketNotSettleable(uint256 offerId, uint256 proofDeadline);

    /**
     * @notice Deploys the market; grant it MeterReadings' MARKET_ROLE.
     * @param registry_ The GatewayRegistry.
     * @param readings_ MeterReadings.
     * @param token_ ERGON.
     * @param toleranceS {TOLERANCE}, seconds.
     * @param graceS {GRACE}, seconds.
     */
    constructor(
        IGatewayRegistry registry_,
        IMeterReadings readings_,
        IERC20 token_,
        uint64 toleranceS,
        uint64 graceS
    ) EIP712("HEPEK EnergyMarket", "1") {
        if (address(registry_).code.length == 0) revert MarketInvalidContract(address(registry_));
        if (address(readings_).code.length == 0) revert MarketInvalidContract(address(readings_));
        if (address(token_).code.length == 0) revert MarketInvalidContract(address(token_));
        if (toleranceS == 0) revert MarketInvalidPeriod("toleranceS");
        if (graceS == 0) revert MarketInvalidPeriod("graceS");
        REGISTRY = registry_;
        READINGS = readings_;
        TOKEN = token_;
        TOLERANCE = toleranceS;
        GRACE = graceS;
    }

    /**
     * @notice Lists an offer; sent by the device's owner. `terms.nonce` is ignored.
     * @dev Emits {OfferListed}. Starts holding the device's export in MeterReadings.
     * @param terms The offer.
     * @return offerId The new offer's id (ids start at 1).
     */
    function list(OfferTerms calldata terms) external returns (uint256 offerId) {
        address owner = REGISTRY.ownerOf(terms.sellerDeviceId);
        if (msg.sender != owner) revert MarketNotDeviceOwner(terms.sellerDeviceId, msg.sender, owner);
        (address key, ) = _sellerKey(terms.sellerDeviceId);
        return _list(terms, key);
    }

    /**
     * @notice Lists an offer signed by the device key (EIP-712 `Offer`); anyone may relay it.
     * @dev Consumes the device's nonce. Emits {OfferListed}.
     * @param terms The signed offer.
     * @param r Signature r.
     * @param vs Signature s with the y-parity in the top bit (EIP-2098).
     * @return offerId The new offer's id.
     */
    function listFor(OfferTerms calldata terms, bytes32 r, bytes32 vs) external returns (uint256 offerId) {
        (address key, ) = _sellerKey(terms.sellerDeviceId);
        _useDeviceNonce(terms.sellerDeviceId, terms.nonce);
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(
                    OFFER_TYPEHASH,
                    terms.sellerDeviceId,
                    terms.wattHours,
                    terms.pricePerKWh,
                    terms.deliveryStart,
                    terms.deliveryEnd,
                    terms.expiry,
                    terms.nonce
                )
            )
        );
        _checkSigner(digest, r, vs, key);
        return _list(terms, key);
    }

    /**
     * @notice Withdraws the untaken rest of an offer, free of charge. The device's owner may do so
     * at any time; after the offer expired anyone may (the rest can no longer be sold), which ends
     * the hold of an offer nobody took.
     * @dev Emits {OfferCancelled}.
     * @param offerId The offer.
     */
    function cancel(uint256 offerId) external {
        Offer storage offer = _existing(offerId);
        if (block.timestamp < offer.expiry) {
            address owner = REGISTRY.ownerOf(offer.sellerDeviceId);
            if (msg.sender != owner) revert MarketNotDeviceOwner(offer.sellerDeviceId, msg.sender, owner);
        }
        _cancel(offerId, offer);
    }

    /**
     * @notice Withdraws the untaken rest of an offer on an EIP-712 `Cancel` signed by the device key.
     * @dev Consumes the device's nonce. Emits {OfferCancelled}.
     * @param offerId The offer.
     * @param nonce The device's next market nonce.
     * @param r Signature r.
     * @param vs Signature s with the y-parity in the top bit.
     */
    function cancelFor(uint256 offerId, uint256 nonce, bytes32 r, bytes32 vs) external {
        Offer storage offer = _existing(offerId);
        bytes32 deviceId = offer.sellerDeviceId;
        (address key, , , ) = REGISTRY.deviceCore(deviceId);
        _useDeviceNonce(deviceId, nonce);
        _checkSigner(_hashTypedDataV4(keccak256(abi.encode(CANCEL_TYPEHASH, offerId, nonce))), r, vs, key);
        _cancel(offerId, offer);
    }

    /**
     * @notice Takes `wattHours` of an offer for `buyerWallet`, sent by that wallet; ERGON is pulled
     * into escrow (with `permit` if given).
     * @dev Emits {OfferTaken}.
     * @param offerId The offer.
     * @param wattHours Exactly the Wh to take.
     * @param buyerWallet The buyer (must be the caller).
     * @param pricePerKWh The offer's price, as the buyer saw it.
     * @param permit An ERC-2612 permit for the escrow, or deadline 0 to use the allowance.
     */
    function buy(
        uint256 offerId,
        uint64 wattHours,
        address buyerWallet,
        uint256 pricePerKWh,
        Permit calldata permit
    ) external {
        if (msg.sender != buyerWallet) revert MarketNotBuyer(msg.sender, buyerWallet);
        _take(offerId, wattHours, buyerWallet, pricePerKWh, permit);
    }

    /**
     * @notice Takes an offer on EIP-712 `Buy` terms signed by the buyer wallet; anyone may relay.
     * @dev Consumes the wallet's buy nonce. Emits {OfferTaken}.
     * @param terms The signed terms.
     * @param r Signature r.
     * @param vs Signature s with the y-parity in the top bit.
     * @param permit An ERC-2612 permit for the escrow signed by the wallet, or deadline 0.
     */
    function buyFor(BuyTerms calldata terms, bytes32 r, bytes32 vs, Permit calldata permit) external {
        if (block.timestamp > terms.deadline) revert MarketBuyExpired(terms.deadline);
        address wallet = terms.buyerWallet;
        uint256 expected = _buyNonces[wallet];
        if (terms.nonce != expected) revert MarketInvalidNonce(terms.nonce, expected);
        // Cannot overflow: one per signed message.
        unchecked {
            _buyNonces[wallet] = expected + 1;
        }
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(
                    BUY_TYPEHASH,
                    terms.offerId,
                    terms.wattHours,
                    wallet,
                    terms.pricePerKWh,
                    terms.nonce,
                    terms.deadline
                )
            )
        );
        _checkSigner(digest, r, vs, wallet);
        _take(terms.offerId, terms.wattHours, wallet, terms.pricePerKWh, permit);
    }

    /**
     * @notice Proves delivery with two accepted readings of the seller's device (MeterReadings
     * checkpoints): the start reading in [start − TOLERANCE, start] (or exactly the device's previous
     * proof's end reading), the end reading in [end, end + TOLERANCE]. Anyone may send it between the
     * window end and end + GRACE; the first valid proof is final (any valid pair covers the window).
     * @dev Emits {DeliveryProven}.
     * @param offerId The offer.
     * @param startSeq The start reading's seq.
     * @param endSeq The end reading's seq.
     */
    function proveDelivery(uint256 offerId, uint64 startSeq, uint64 endSeq) external {
        Offer storage offer = _existing(offerId);
        if (offer.proven) revert MarketAlreadyProven(offerId);
        uint64 takenWh = offer.takenWh;
        if (takenWh == 0) revert MarketNothingTaken(offerId);
        uint256 start = offer.deliveryStart;
        uint256 end = offer.deliveryEnd;
        if (block.timestamp < end) revert MarketWindowNotOver(offerId, uint64(end));
        if (block.timestamp > end + GRACE) revert MarketProofTooLate(offerId, end + GRACE);

        bytes32 deviceId = offer.sellerDeviceId;
        IMeterReadings.Checkpoint memory first = READINGS.checkpointOf(deviceId, startSeq);
        IMeterReadings.Checkpoint memory last = READINGS.checkpointOf(deviceId, endSeq);
        ProofMark memory mark = _proofMarks[deviceId];
        // The previous proof's end reading may open this window even if it lies after the start:
        // adjacent windows then share that reading instead of counting its interval twice.
        bool continues = mark.endTimestamp != 0 && startSeq == mark.endSeq && !(first.timestamp > start + TOLERANCE);
        if (!continues && (first.timestamp > start || first.timestamp + TOLERANCE < start))
            revert MarketReadingOutOfTolerance(
                offerId,
                startSeq,
                first.timestamp,
                start > TOLERANCE ? start - TOLERANCE : 0,
                start
            );
        if (first.timestamp < mark.endTimestamp) revert MarketProofOverlap(offerId, startSeq, mark.endTimestamp);
        if (last.timestamp < end || last.timestamp > end + TOLERANCE)
            revert MarketReadingOutOfTolerance(offerId, endSeq, last.timestamp, end, end + TOLERANCE);

        // Cannot underflow: a later reading's counter is never lower (MeterReadings checks it).
        uint64 exportedWh;
        unchecked {
            exportedWh = last.exportWh - first.exportWh;
        }
        uint64 deliveredWh = exportedWh < takenWh ? exportedWh : takenWh;
        offer.proven = true;
        offer.deliveredWh = deliveredWh;
        _proofMarks[deviceId] = ProofMark({endTimestamp: last.timestamp, endSeq: endSeq});
        emit DeliveryProven(offerId, startSeq, endSeq, exportedWh, deliveredWh);
    }

    /**
     * @notice Settles one buyer of an offer, after its proof or, without one, after the grace
     * period (delivered = 0): pays the seller the buyer's pro-rata share of the delivered Wh at the
     * offer price and refunds the rest of the escrow. Anyone may send it.
     * @dev Emits {OfferSettled}, and {EscrowRefunded} when something is refunded. The last buyer's
     * settlement ends the offer's export hold.
     * @param offerId The offer.
     * @param buyerWallet The buyer.
     */
    function settle(uint256 offerId, address buyerWallet) external {
        Offer storage offer = _existing(offerId);
        Position memory position = _positions[offerId][buyerWallet];
        if (position.wattHours == 0) revert MarketNothingToSettle(offerId, buyerWallet);
        bool proven = offer.proven;
        if (!proven && !(block.timestamp > uint256(offer.deliveryEnd) + GRACE))
            revert MarketNotSettleable(offerId, uint256(offer.deliveryEnd) + GRACE);

        // Rounded down, so the buyers' shares never add up to more than was delivered.
        uint64 deliveredWh = proven
            ? ((uint256(offer.deliveredWh) * position.wattHours) / offer.takenWh).toUint64()
            : 0;
        uint256 paid = (uint256(deliveredWh) * offer.pricePerKWh) / 1000;
        // Cannot underflow: deliveredWh ≤ position.wattHours, so paid ≤ the escrow (same rounding).
        uint256 refund;
        unchecked {
            refund = position.escrow - paid;
        }
        delete _positions[offerId][buyerWallet];
        uint32 open = offer.openPositions - 1;
        offer.openPositions = open;
        bytes32 deviceId = offer.sellerDeviceId;
        address seller = offer.sellerWallet;

        emit OfferSettled(offerId, buyerWallet, deliveredWh, paid);
        if (refund != 0) emit EscrowRefunded(offerId, buyerWallet, refund);
        if (deliveredWh != 0) READINGS.sellHeld(deviceId, deliveredWh, buyerWallet);
        // The window is over, so nobody can take more: the last settlement ends the hold.
        if (open == 0) READINGS.releaseHold(deviceId);
        if (paid != 0) TOKEN.safeTransfer(seller, paid);
        if (refund != 0) TOKEN.safeTransfer(buyerWallet, refund);
    }

    /**
     * @notice An offer.
     * @param offerId The offer.
     * @return The stored offer (all zero for an unknown id).
     */
    function offerOf(uint256 offerId) external view returns (Offer memory) {
        return _offers[offerId];
    }

    /**
     * @notice A buyer's unsettled position in an offer.
     * @param offerId The offer.
     * @param buyerWallet The buyer.
     * @return The position (zero once settled).
     */
    function positionOf(uint256 offerId, address buyerWallet) external view returns (Position memory) {
        return _positions[offerId][buyerWallet];
    }

    /**
     * @notice Every wallet that took part of an offer, in order of their first take.
     * @param offerId The offer.
     * @return The buyers (settled ones included).
     */
    function buyersOf(uint256 offerId) external view returns (address[] memory) {
        return _buyers[offerId];
    }

    /**
     * @notice How many offers were ever listed (ids run from 1 to this).
     * @return The count.
     */
    function offerCount() external view returns (uint256) {
        return _offerCount;
    }

    /**
     * @notice The nonce the device's next signed `Offer` or `Cancel` must carry.
     * @param deviceId The device.
     * @return The next nonce.
     */
    function nonces(bytes32 deviceId) external view returns (uint256) {
        return _nonces[deviceId];
    }

    /**
     * @notice The nonce the wallet's next signed `Buy` must carry.
     * @param wallet The buyer wallet.
     * @return The next nonce.
     */
    function buyNonces(address wallet) external view returns (uint256) {
        return _buyNonces[wallet];
    }

    /**
     * @notice Where the device's last delivery proof ended.
     * @param deviceId The device.
     * @return The end reading's timestamp and seq (zero before the first proof).
     */
    function proofMarkOf(bytes32 deviceId) external view returns (ProofMark memory) {
        return _proofMarks[deviceId];
    }

    /**
     * @notice The EIP-712 domain separator offers, cancels and buys are signed for.
     * @return The domain separator.
     */
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev The key of an active, claimed prosumer or generator; reverts otherwise.
    function _sellerKey(bytes32 deviceId) private view returns (address key, IGatewayRegistry.DeviceMode mode) {
        bool activeClaimed;
        (key, , mode, activeClaimed) = REGISTRY.deviceCore(deviceId);
        if (!activeClaimed) revert MarketDeviceNotActive(deviceId);
        if (mode == IGatewayRegistry.DeviceMode.Consumer) revert MarketDeviceNotSeller(deviceId, mode);
    }

    /// @dev Checks the terms and the device's other windows, stores the offer and starts the hold.
    function _list(OfferTerms calldata terms, address sellerWallet) private returns (uint256 offerId) {
        if (terms.wattHours == 0) revert MarketInvalidAmount("wattHours");
        if (terms.pricePerKWh == 0) revert MarketInvalidAmount("pricePerKWh");
        uint64 start = terms.deliveryStart;
        uint64 end = terms.deliveryEnd;
        if (!(start < end) || !(block.timestamp < terms.expiry) || terms.expiry > start)
            revert MarketInvalidWindow(start, end, terms.expiry);
        // Every reading a proof may count then comes after this listing, i.e. after the hold began.
        if (start < block.timestamp + TOLERANCE) revert MarketStartTooSoon(start, block.timestamp + TOLERANCE);
        bytes32 deviceId = terms.sellerDeviceId;
        _checkNoOverlap(deviceId, start, end);

        offerId = ++_offerCount;
        _offers[offerId] = Offer({
            sellerDeviceId: deviceId,
            sellerWallet: sellerWallet,
            wattHours: terms.wattHours,
            openPositions: 0,
            takenWh: 0,
            deliveryStart: uint40(start),
            deliveryEnd: uint256(end).toUint40(),
            expiry: uint40(terms.expiry),
            deliveredWh: 0,
            proven: false,
            pricePerKWh: terms.pricePerKWh
        });
        _liveOffers[deviceId].push(offerId);
        emit OfferListed(
            offerId,
            deviceId,
            sellerWallet,
            terms.wattHours,
            terms.pricePerKWh,
            start,
            end,
            terms.expiry
        );
        READINGS.holdExport(deviceId);
    }

    /**
     * @dev Reverts if [start, end) overlaps a live offer of the device; prunes offers that ended or
     * were cancelled untaken (swap and pop), so the list stays as short as the device's future.
     */
    function _checkNoOverlap(bytes32 deviceId, uint64 start, uint64 end) private {
        uint256[] storage live = _liveOffers[deviceId];
        uint256 i = 0;
        while (i < live.length) {
            uint256 otherId = live[i];
            Offer storage other = _offers[otherId];
            uint64 otherStart = other.deliveryStart;
            uint64 otherEnd = other.deliveryEnd;
            if (!(otherEnd > block.timestamp) || other.wattHours == 0) {
                live[i] = live[live.length - 1];
                live.pop();
                continue;
            }
            if (start < otherEnd && otherStart < end) revert MarketWindowOverlap(deviceId, otherId, otherStart, otherEnd);
            // Cannot overflow: i < live.length.
            unchecked {
                ++i;
            }
        }
    }

    /// @dev Withdraws the untaken rest; an offer nobody took ends its hold and frees its window.
    function _cancel(uint256 offerId, Offer storage offer) private {
        uint64 takenWh = offer.takenWh;
        uint64 restWh = offer.wattHours - takenWh;
        if (restWh == 0) revert MarketNothingToCancel(offerId);
        offer.wattHours = takenWh;
        emit OfferCancelled(offerId, restWh);
        if (takenWh == 0) READINGS.releaseHold(offer.sellerDeviceId);
    }

    /// @dev The checks and bookkeeping of a take, then the escrow transfer.
    function _take(
        uint256 offerId,
        uint64 wattHours,
        address buyerWallet,
        uint256 pricePerKWh,
        Permit calldata permit
    ) private {
        Offer storage offer = _existing(offerId);
        if (!(block.timestamp < offer.expiry)) revert MarketOfferExpired(offerId, offer.expiry);
        uint256 price = offer.pricePerKWh;
        if (pricePerKWh != price) revert MarketPriceMismatch(offerId, pricePerKWh, price);
        if (wattHours == 0) revert MarketInvalidAmount("wattHours");
        uint64 takenWh = offer.takenWh;
        uint64 availableWh = offer.wattHours - takenWh;
        if (wattHours > availableWh) revert MarketInsufficientWh(offerId, wattHours, availableWh);
        if (buyerWallet == offer.sellerWallet) revert MarketSelfTrade(buyerWallet);
        _checkMember(buyerWallet);

        uint256 escrow = (uint256(wattHours) * price) / 1000;
        offer.takenWh = takenWh + wattHours;
        Position storage position = _positions[offerId][buyerWallet];
        if (position.wattHours == 0) {
            ++offer.openPositions;
            _buyers[offerId].push(buyerWallet);
        }
        position.wattHours += wattHours;
        position.escrow = (uint256(position.escrow) + escrow).toUint192();
        emit OfferTaken(offerId, buyerWallet, wattHours, escrow);
        _pull(buyerWallet, escrow, permit);
    }

    /// @dev Reverts unless `wallet` is the current key of an active, claimed device.
    function _checkMember(address wallet) private view {
        bytes32 deviceId = REGISTRY.deviceIdOfKey(wallet);
        (address key, , , bool activeClaimed) = REGISTRY.deviceCore(deviceId);
        if (key != wallet || !activeClaimed) revert MarketBuyerNotMember(wallet);
    }

    /**
     * @dev Pulls the escrow: tries the permit first; if it fails (used by a front-runner, expired),
     * the allowance must cover the amount — the same rule as PaymentChannels.
     */
    function _pull(address owner, uint256 amount, Permit calldata permit) private {
        if (amount == 0) return;
        if (permit.deadline != 0) {
            bytes32 vs = permit.vs;
            // EIP-2098: the top bit of vs is the y-parity, the rest is s.
            uint8 v = uint8(uint256(vs) >> 255) + 27;
            bytes32 s = vs & bytes32(type(uint256).max >> 1);
            // solhint-disable-next-line no-empty-blocks
            try IERC20Permit(address(TOKEN)).permit(owner, address(this), amount, permit.deadline, v, permit.r, s) {
                // Allowance set; transferFrom below spends it.
            } catch {
                uint256 allowance = TOKEN.allowance(owner, address(this));
                if (allowance < amount) revert MarketInsufficientAllowance(owner, allowance, amount);
            }
        }
        TOKEN.safeTransferFrom(owner, address(this), amount);
    }

    /// @dev Consumes the device's market nonce if `nonce` is the expected one.
    function _useDeviceNonce(bytes32 deviceId, uint256 nonce) private {
        uint256 expected = _nonces[deviceId];
        if (nonce != expected) revert MarketInvalidNonce(nonce, expected);
        // Cannot overflow: one per signed message.
        unchecked {
            _nonces[deviceId] = expected + 1;
        }
    }

    /// @dev Reverts unless the compact signature over `digest` is well formed, low-s and by `expected`.
    function _checkSigner(bytes32 digest, bytes32 r, bytes32 vs, address expected) private pure {
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(digest, r, vs);
        if (err != ECDSA.RecoverError.NoError) revert MarketInvalidSignature();
        if (signer != expected) revert MarketInvalidSigner(signer, expected);
    }

    /// @dev The offer, or a revert for an unknown id.
    function _existing(uint256 offerId) private view returns (Offer storage offer) {
        offer = _offers[offerId];
        if (offer.sellerWallet == address(0)) revert MarketUnknownOffer(offerId);
    }
}
