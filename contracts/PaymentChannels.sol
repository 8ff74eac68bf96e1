// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {GatewayRegistry} from "./GatewayRegistry.sol";
import {IPaymentChannels} from "./IPaymentChannels.sol";

/**
 * @title PaymentChannels
 * @author HEPEK
 * @notice Unidirectional ERGON payment channels from HEPEK wallets to the hub, opened by one relayed
 * transaction (device-signed `Open` + ERC-2612 permit) and settled by device-signed vouchers.
 * See {IPaymentChannels} for the protocol.
 * @dev Gas is the design constraint (a channel lives for many 15-minute billing cycles but costs two
 * transactions), so each channel is ONE storage slot:
 *
 *   bits 255..160  deposit (uint96, wei; never zero while open, so slot != 0 means "open")
 *   bits 159..120  exitAt (uint40, unix seconds; zero while no exit was started)
 *   bits 119..0    payee tag (low 120 bits of keccak256(payee))
 *
 * The payer, challenge period and nonce live in the channel id itself
 * (`payer << 96 | challengePeriod << 64 | nonce`), and the voucher signer is the payer, so the key
 * that signs vouchers is fixed at open: a later key rotation in the registry cannot invalidate
 * them. The payee is checked against its tag; forging an address with the same 120-bit tag takes
 * about 2^120 attempts. A payer's concession at {startExit} (payee + amount) takes a second slot,
 * written only on that rare path. Closed channels are deleted (gas refund); their ids cannot come
 * back because the payer's nonce has moved on.
 */
contract PaymentChannels is IPaymentChannels, EIP712 {
    using SafeERC20 for IERC20;

    /// @notice EIP-712 type hash of `Open`; equals `encodeType('Open')` of gateway/chain/typed-data.ts.
    bytes32 public constant OPEN_TYPEHASH =
        keccak256("Open(address payer,address payee,uint256 deposit,uint64 challengePeriod,uint256 nonce)");

    /// @notice EIP-712 type hash of `Voucher`; equals `encodeType('Voucher')` of gateway/chain/typed-data.ts.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256("Voucher(uint256 channelId,uint256 cumulativeAmount)");

    /// @notice Shortest challenge period: the payee must get time to see an exit and answer it.
    uint64 public constant MIN_CHALLENGE_PERIOD = 1 hours;

    /// @notice Longest challenge period: a payer's funds are never locked for longer after an exit.
    uint64 public constant MAX_CHALLENGE_PERIOD = 30 days;

    uint256 private constant _TAG_MASK = (1 << 120) - 1;
    uint256 private constant _EXIT_SHIFT = 120;
    uint256 private constant _DEPOSIT_SHIFT = 160;

    IERC20 private immutable _TOKEN;
    GatewayRegistry private immutable _REGISTRY;

    // Open channels, packed as described above; zero = not open.
    mapping(uint256 channelId => uint256 packed) private _channels;
    // Concessions of started exits: payee << 96 | amount; zero when the payer conceded nothing.
    mapping(uint256 channelId => uint256 packed) private _exits;
    // Next `Open` nonce of each payer.
    mapping(address payer => uint256 nonce) private _nonces;

    /**
     * @notice Deploys the channels for one token and one device registry.
     * @param token_ The ERGON token (ERC-20 + ERC-2612).
     * @param registry_ The GatewayRegistry whose active, claimed device keys may open channels.
     */
    constructor(IERC20 token_, GatewayRegistry registry_) EIP712("HEPEK PaymentChannels", "1") {
        if (address(token_) == address(0) || address(registry_) == address(0))
            revert ChannelInvalidSetup(address(token_), address(registry_));
        _TOKEN = token_;
        _REGISTRY = registry_;
    }

    /// @inheritdoc IPaymentChannels
    function open(
        Open calldata request,
        bytes32 r,
        bytes32 vs,
        Permit calldata permit
    ) external returns (uint256 channelId) {
        address payer = request.payer;
        address payee = request.payee;
        uint256 deposit = request.deposit;
        uint64 challengePeriod = request.challengePeriod;
        if (payee == address(0) || payee == payer) revert ChannelInvalidPayee(payee);
        if (deposit == 0 || deposit > type(uint96).max) revert ChannelInvalidDeposit(deposit);
        if (challengePeriod < MIN_CHALLENGE_PERIOD || challengePeriod > MAX_CHALLENGE_PERIOD)
            revert ChannelInvalidChallengePeriod(challengePeriod, MIN_CHALLENGE_PERIOD, MAX_CHALLENGE_PERIOD);
        uint256 nonce = _nonces[payer];
        if (request.nonce != nonce) revert ChannelInvalidNonce(payer, request.nonce, nonce);
        _checkDevice(payer);
        address signer = _recover(_hashTypedDataV4(keccak256(abi.encode(OPEN_TYPEHASH, request))), r, vs);
        if (signer != payer) revert ChannelInvalidOpenSigner(payer, signer);

        // Cannot overflow: a nonce grows by one per channel. It also stays below 2^64, so the id's
        // nonce field never spills into the challenge period.
        unchecked {
            _nonces[payer] = nonce + 1;
        }
        channelId = _channelId(payer, challengePeriod, nonce);
        _channels[channelId] = (deposit << _DEPOSIT_SHIFT) | _tag(payee);
        emit ChannelOpened(channelId, payer, payee, deposit, challengePeriod);
        _pull(payer, deposit, permit);
    }

    /// @inheritdoc IPaymentChannels
    function topUp(uint256 channelId, uint256 amount, Permit calldata permit) external {
        uint256 packed = _channels[channelId];
        if (packed == 0) revert ChannelNotOpen(channelId);
        address payer = _payerOf(channelId);
        if (msg.sender != payer && (packed & _TAG_MASK) != _tag(msg.sender))
            revert ChannelNotParty(channelId, msg.sender);
        uint256 exitAt = uint40(packed >> _EXIT_SHIFT);
        if (exitAt != 0) revert ChannelExiting(channelId, exitAt);
        uint256 deposit = packed >> _DEPOSIT_SHIFT;
        if (amount == 0 || amount > type(uint96).max - deposit) revert ChannelInvalidDeposit(amount);

        // Cannot overflow: the new deposit was just checked to fit its 96 bits.
        unchecked {
            deposit += amount;
            _channels[channelId] = packed + (amount << _DEPOSIT_SHIFT);
        }
        emit ChannelToppedUp(channelId, amount, deposit);
        _pull(payer, amount, permit);
    }

    /// @inheritdoc IPaymentChannels
    function close(uint256 channelId, uint256 cumulativeAmount, bytes32 r, bytes32 vs) external {
        uint256 packed = _channels[channelId];
        if (packed == 0) revert ChannelNotOpen(channelId);
        if ((packed & _TAG_MASK) != _tag(msg.sender)) revert ChannelNotPayee(channelId, msg.sender);
        uint256 deposit = packed >> _DEPOSIT_SHIFT;
        if (cumulativeAmount > deposit) revert ChannelOverspent(channelId, cumulativeAmount, deposit);
        uint256 exitAt = uint40(packed >> _EXIT_SHIFT);
        uint256 conceded;
        if (exitAt != 0) {
            // The exit matures AT exitAt, the same instant withdraw becomes possible.
            // solhint-disable-next-line gas-strict-inequalities
            if (block.timestamp >= exitAt) revert ChannelChallengeOver(channelId, exitAt);
            conceded = uint96(_exits[channelId]);
            if (cumulativeAmount < conceded) revert ChannelStaleVoucher(channelId, cumulativeAmount, conceded);
        }
        address payer = _payerOf(channelId);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, cumulativeAmount)));
        address signer = _recover(digest, r, vs);
        if (signer != payer) revert ChannelInvalidSigner(channelId, signer, payer);

        delete _channels[channelId];
        if (conceded != 0) delete _exits[channelId];
        uint256 rest;
        // Cannot underflow: cumulativeAmount <= deposit was checked above.
        unchecked {
            rest = deposit - cumulativeAmount;
        }
        emit ChannelClosed(channelId, cumulativeAmount, rest);
        _payOut(msg.sender, cumulativeAmount, payer, rest);
    }

    /// @inheritdoc IPaymentChannels
    function startExit(uint256 channelId, address payee, uint256 cumulativeAmount) external {
        uint256 packed = _channels[channelId];
        if (packed == 0) revert ChannelNotOpen(channelId);
        if (msg.sender != _payerOf(channelId)) revert ChannelNotPayer(channelId, msg.sender);
        uint256 exitAt = uint40(packed >> _EXIT_SHIFT);
        if (exitAt != 0) revert ChannelExiting(channelId, exitAt);
        uint256 deposit = packed >> _DEPOSIT_SHIFT;
        if (cumulativeAmount > deposit) revert ChannelOverspent(channelId, cumulativeAmount, deposit);
        if (cumulativeAmount != 0) {
            if ((packed & _TAG_MASK) != _tag(payee)) revert ChannelNotPayee(channelId, payee);
            _exits[channelId] = (uint256(uint160(payee)) << 96) | cumulativeAmount;
        }
        // Fits 40 bits until the year 36812: the period is at most 30 days.
        exitAt = block.timestamp + _challengePeriodOf(channelId);
        _channels[channelId] = packed | (exitAt << _EXIT_SHIFT);
        emit ExitStarted(channelId, cumulativeAmount, uint64(exitAt));
    }

    /// @inheritdoc IPaymentChannels
    function withdraw(uint256 channelId) external {
        uint256 packed = _channels[channelId];
        if (packed == 0) revert ChannelNotOpen(channelId);
        uint256 exitAt = uint40(packed >> _EXIT_SHIFT);
        if (exitAt == 0) revert ChannelNotExiting(channelId);
        if (block.timestamp < exitAt) revert ChannelExitPending(channelId, exitAt);
        uint256 exit = _exits[channelId];
        uint256 conceded = uint96(exit);
        uint256 deposit = packed >> _DEPOSIT_SHIFT;

        delete _channels[channelId];
        if (exit != 0) delete _exits[channelId];
        uint256 rest;
        // Cannot underflow: conceded <= deposit at startExit, and the deposit cannot change during an exit.
        unchecked {
            rest = deposit - conceded;
        }
        emit ChannelWithdrawn(channelId, conceded, rest);
        _payOut(address(uint160(exit >> 96)), conceded, _payerOf(channelId), rest);
    }

    /// @inheritdoc IPaymentChannels
    function channelOf(uint256 channelId) external view returns (ChannelState memory) {
        uint256 packed = _channels[channelId];
        return
            ChannelState({
                payer: _payerOf(channelId),
                challengePeriod: _challengePeriodOf(channelId),
                nonce: uint64(channelId),
                deposit: uint96(packed >> _DEPOSIT_SHIFT),
                exitAt: uint40(packed >> _EXIT_SHIFT),
                exitAmount: uint96(_exits[channelId])
            });
    }

    /// @inheritdoc IPaymentChannels
    function isPayee(uint256 channelId, address account) external view returns (bool) {
        uint256 packed = _channels[channelId];
        return packed != 0 && (packed & _TAG_MASK) == _tag(account);
    }

    /// @inheritdoc IPaymentChannels
    function nonces(address payer) external view returns (uint256) {
        return _nonces[payer];
    }

    /// @inheritdoc IPaymentChannels
    function channelIdOf(address payer, uint64 challengePeriod, uint64 nonce) external pure returns (uint256) {
        return _channelId(payer, challengePeriod, nonce);
    }

    /**
     * @notice The ERGON token the channels hold.
     * @return The token address.
     */
    function token() external view returns (address) {
        return address(_TOKEN);
    }

    /**
     * @notice The device registry that decides who may open a channel.
     * @return The registry address.
     */
    function registry() external view returns (address) {
        return address(_REGISTRY);
    }

    /**
     * @notice The EIP-712 domain separator (name `HEPEK PaymentChannels`, version `1`, chain id, this address).
     * @return The domain separator.
     */
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev Reverts unless `payer` is the current key of an active, claimed device.
    function _checkDevice(address payer) private view {
        bytes32 deviceId = _REGISTRY.deviceIdOfKey(payer);
        // The key comparison matters: an unknown key maps to device id 0, and a rotated-out key may
        // still map to its old device.
        GatewayRegistry.Device memory device = _REGISTRY.deviceOf(deviceId);
        if (device.key != payer || !device.active || device.owner == address(0))
            revert ChannelPayerNotDevice(payer, deviceId);
    }

    /**
     * @dev Pulls `amount` from `payer`: tries the permit first; if it fails (already used by a
     * front-runner, or expired), the allowance must cover the amount.
     */
    function _pull(address payer, uint256 amount, Permit calldata permit) private {
        if (permit.deadline != 0) {
            bytes32 vs = permit.vs;
            // EIP-2098: the top bit of vs is the y-parity, the rest is s.
            uint8 v = uint8(uint256(vs) >> 255) + 27;
            bytes32 s = vs & bytes32(type(uint256).max >> 1);
            // solhint-disable-next-line no-empty-blocks
            try IERC20Permit(address(_TOKEN)).permit(payer, address(this), amount, permit.deadline, v, permit.r, s) {
                // Allowance set; transferFrom below spends it.
            } catch {
                uint256 allowance = _TOKEN.allowance(payer, address(this));
                if (allowance < amount) revert ChannelInsufficientAllowance(payer, allowance, amount);
            }
        }
        _TOKEN.safeTransferFrom(payer, address(this), amount);
    }

    /// @dev Pays the two parties of a settled channel, skipping zero amounts.
    function _payOut(address payee, uint256 payeeAmount, address payer, uint256 payerAmount) private {
        if (payeeAmount != 0) _TOKEN.safeTransfer(payee, payeeAmount);
        if (payerAmount != 0) _TOKEN.safeTransfer(payer, payerAmount);
    }

    /// @dev The signer of `digest`; reverts on a malformed or high-s signature.
    function _recover(bytes32 digest, bytes32 r, bytes32 vs) private pure returns (address signer) {
        ECDSA.RecoverError err;
        (signer, err, ) = ECDSA.tryRecover(digest, r, vs);
        if (err != ECDSA.RecoverError.NoError) revert ChannelInvalidSignature(r, vs);
    }

    /// @dev The payee tag stored in a channel's slot: the low 120 bits of keccak256(payee).
    function _tag(address payee) private pure returns (uint256 tag) {
        // Assembly hashes the address in scratch space instead of allocating memory: this runs in
        // every close and top-up.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            // Scratch space (0x00..0x3f) may be used freely between statements.
            mstore(0x00, payee)
            tag := and(keccak256(0x00, 0x20), _TAG_MASK)
        }
    }

    function _channelId(address payer, uint64 challengePeriod, uint256 nonce) private pure returns (uint256) {
        return (uint256(uint160(payer)) << 96) | (uint256(challengePeriod) << 64) | nonce;
    }

    function _payerOf(uint256 channelId) private pure returns (address) {
        return address(uint160(channelId >> 96));
    }

    function _challengePeriodOf(uint256 channelId) private pure returns (uint64) {
        // Bits 95..64; the bits above belong to the payer.
        return uint32(channelId >> 64);
    }
}
