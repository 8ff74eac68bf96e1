// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
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
 * transactions). A payer has at most one open channel, so its channels share ONE storage slot that
 * is never cleared — every open after the first rewrites a warm nonzero slot (5,000 gas instead of
 * 22,100) and the payer's nonce lives in the same slot:
 *
 *   bits 255..160  deposit (uint96, wei; zero = no open channel)
 *   bits 159..128  next nonce (uint32); the open channel's nonce is one less
 *   bits 127..88   challenge period (s) while open; exitAt (unix s) once an exit started
 *   bit  87        exit started
 *   bits 86..0     payee tag: the low 87 bits of keccak256(payee, channelId)
 *
 * The channel id is `payer << 96 | nonce`, and the voucher signer is the payer, so the key that
 * signs vouchers is fixed at open: a later key rotation in the registry cannot invalidate them.
 * The payee is checked against its tag; the tag binds the channel id, so forging a payee address
 * takes about 2^87 key generations for each single channel. A payer's concession at {startExit}
 * (payee + amount) takes a second slot, written only on that rare path and cleared after.
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

    uint256 private constant _DEPOSIT_SHIFT = 160;
    uint256 private constant _NONCE_SHIFT = 128;
    uint256 private constant _TIME_SHIFT = 88;
    uint256 private constant _EXITING = 1 << 87;
    uint256 private constant _TAG_MASK = (1 << 87) - 1;
    uint256 private constant _NONCE_MASK = uint256(type(uint32).max) << _NONCE_SHIFT;
    uint256 private constant _TIME_MASK = uint256(type(uint40).max) << _TIME_SHIFT;
    // secp256k1 n / 2: the largest s accepted.
    uint256 private constant _HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    IERC20 private immutable _TOKEN;
    GatewayRegistry private immutable _REGISTRY;

    // Each payer's channel slot, packed as described above.
    mapping(address payer => uint256 packed) private _channels;
    // Concession of a running exit: payee << 96 | amount; zero when the payer conceded nothing.
    mapping(address payer => uint256 packed) private _exits;

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
        uint256 packed = _channels[payer];
        uint256 nonce = uint32(packed >> _NONCE_SHIFT);
        if (request.nonce != nonce) revert ChannelInvalidNonce(payer, request.nonce, nonce);
        // A nonzero deposit means the channel with the previous nonce is still open (nonce >= 1).
        if (packed >> _DEPOSIT_SHIFT != 0) revert ChannelAlreadyOpen(payer, _channelId(payer, nonce - 1));
        _checkDevice(payer);
        address signer = _recover(_hashTypedDataV4(keccak256(abi.encode(OPEN_TYPEHASH, request))), r, vs);
        if (signer != payer) revert ChannelInvalidOpenSigner(payer, signer);

        channelId = _channelId(payer, nonce);
        // The nonce cannot outgrow its 32 bits: every channel costs the payer a signature and a
        // transaction, one at a time; 2^32 of them at one per second would take 136 years.
        _channels[payer] =
            (deposit << _DEPOSIT_SHIFT) |
            ((nonce + 1) << _NONCE_SHIFT) |
            (uint256(challengePeriod) << _TIME_SHIFT) |
            _tag(payee, channelId);
        emit ChannelOpened(channelId, payer, payee, deposit, challengePeriod);
        _pull(payer, deposit, permit);
    }

    /// @inheritdoc IPaymentChannels
    function topUp(uint256 channelId, uint256 amount, Permit calldata permit) external {
        address payer = _payerOf(channelId);
        uint256 packed = _openChannel(channelId, payer);
        if (msg.sender != payer && (packed & _TAG_MASK) != _tag(msg.sender, channelId))
            revert ChannelNotParty(channelId, msg.sender);
        if (packed & _EXITING != 0) revert ChannelExiting(channelId, _timeOf(packed));
        uint256 deposit = packed >> _DEPOSIT_SHIFT;
        if (amount == 0 || amount > type(uint96).max - deposit) revert ChannelInvalidDeposit(amount);

        // Cannot overflow: the new deposit was just checked to fit its 96 bits.
        unchecked {
            deposit += amount;
            _channels[payer] = packed + (amount << _DEPOSIT_SHIFT);
        }
        emit ChannelToppedUp(channelId, amount, deposit);
        _pull(payer, amount, permit);
    }

    /// @inheritdoc IPaymentChannels
    function close(uint256 channelId, uint256 cumulativeAmount, bytes32 r, bytes32 vs) external {
        address payer = _payerOf(channelId);
        uint256 packed = _openChannel(channelId, payer);
        if ((packed & _TAG_MASK) != _tag(msg.sender, channelId)) revert ChannelNotPayee(channelId, msg.sender);
        uint256 deposit = packed >> _DEPOSIT_SHIFT;
        if (cumulativeAmount > deposit) revert ChannelOverspent(channelId, cumulativeAmount, deposit);
        uint256 conceded;
        if (packed & _EXITING != 0) {
            uint256 exitAt = _timeOf(packed);
            // The exit matures AT exitAt, the same instant withdraw becomes possible.
            // solhint-disable-next-line gas-strict-inequalities
            if (block.timestamp >= exitAt) revert ChannelChallengeOver(channelId, exitAt);
            conceded = uint96(_exits[payer]);
            if (cumulativeAmount < conceded) revert ChannelStaleVoucher(channelId, cumulativeAmount, conceded);
        }
        address signer = _recover(_hashTypedDataV4(_voucherHash(channelId, cumulativeAmount)), r, vs);
        if (signer != payer) revert ChannelInvalidSigner(channelId, signer, payer);

        // Keep only the nonce: the slot stays nonzero for the payer's next open.
        _channels[payer] = packed & _NONCE_MASK;
        if (conceded != 0) delete _exits[payer];
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
        address payer = _payerOf(channelId);
        uint256 packed = _openChannel(channelId, payer);
        if (msg.sender != payer) revert ChannelNotPayer(channelId, msg.sender);
        if (packed & _EXITING != 0) revert ChannelExiting(channelId, _timeOf(packed));
        uint256 deposit = packed >> _DEPOSIT_SHIFT;
        if (cumulativeAmount > deposit) revert ChannelOverspent(channelId, cumulativeAmount, deposit);
        if (cumulativeAmount != 0) {
            if ((packed & _TAG_MASK) != _tag(payee, channelId)) revert ChannelNotPayee(channelId, payee);
            _exits[payer] = (uint256(uint160(payee)) << 96) | cumulativeAmount;
        }
        // The time field held the challenge period until now; it fits 40 bits until the year 36812.
        uint256 exitAt = block.timestamp + _timeOf(packed);
        _channels[payer] = (packed & ~_TIME_MASK) | (exitAt << _TIME_SHIFT) | _EXITING;
        emit ExitStarted(channelId, cumulativeAmount, uint64(exitAt));
    }

    /// @inheritdoc IPaymentChannels
    function withdraw(uint256 channelId) external {
        address payer = _payerOf(channelId);
        uint256 packed = _openChannel(channelId, payer);
        if (packed & _EXITING == 0) revert ChannelNotExiting(channelId);
        uint256 exitAt = _timeOf(packed);
        if (block.timestamp < exitAt) revert ChannelExitPending(channelId, exitAt);
        uint256 exit = _exits[payer];
        uint256 conceded = uint96(exit);
        uint256 deposit = packed >> _DEPOSIT_SHIFT;

        _channels[payer] = packed & _NONCE_MASK;
        if (exit != 0) delete _exits[payer];
        uint256 rest;
        // Cannot underflow: conceded <= deposit at startExit, and the deposit cannot change during an exit.
        unchecked {
            rest = deposit - conceded;
        }
        emit ChannelWithdrawn(channelId, conceded, rest);
        _payOut(address(uint160(exit >> 96)), conceded, payer, rest);
    }

    /// @inheritdoc IPaymentChannels
    function channelOf(uint256 channelId) external view returns (ChannelState memory state) {
        address payer = _payerOf(channelId);
        state.payer = payer;
        state.nonce = uint64(uint96(channelId));
        uint256 packed = _channels[payer];
        if (!_isOpen(channelId, packed)) return state;
        state.deposit = uint96(packed >> _DEPOSIT_SHIFT);
        if (packed & _EXITING == 0) {
            state.challengePeriod = uint64(_timeOf(packed));
        } else {
            state.exitAt = uint64(_timeOf(packed));
            state.exitAmount = uint96(_exits[payer]);
        }
    }

    /// @inheritdoc IPaymentChannels
    function channelOfPayer(address payer) external view returns (uint256 channelId, bool isOpen) {
        uint256 packed = _channels[payer];
        uint256 next = uint32(packed >> _NONCE_SHIFT);
        channelId = _channelId(payer, next == 0 ? 0 : next - 1);
        isOpen = packed >> _DEPOSIT_SHIFT != 0;
    }

    /// @inheritdoc IPaymentChannels
    function isPayee(uint256 channelId, address account) external view returns (bool) {
        uint256 packed = _channels[_payerOf(channelId)];
        return _isOpen(channelId, packed) && (packed & _TAG_MASK) == _tag(account, channelId);
    }

    /// @inheritdoc IPaymentChannels
    function nonces(address payer) external view returns (uint256) {
        return uint32(_channels[payer] >> _NONCE_SHIFT);
    }

    /// @inheritdoc IPaymentChannels
    function channelIdOf(address payer, uint64 nonce) external pure returns (uint256) {
        return _channelId(payer, nonce);
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
        // deviceCore reads the device's packed first slot once. The key comparison matters: an
        // unknown key maps to device id 0, which may exist.
        (address key, , , bool activeClaimed) = _REGISTRY.deviceCore(deviceId);
        if (key != payer || !activeClaimed) revert ChannelPayerNotDevice(payer, deviceId);
    }

    /// @dev The payer's slot if `channelId` is its open channel, else reverts with {ChannelNotOpen}.
    function _openChannel(uint256 channelId, address payer) private view returns (uint256 packed) {
        packed = _channels[payer];
        if (!_isOpen(channelId, packed)) revert ChannelNotOpen(channelId);
    }

    /// @dev Whether `packed` holds an open channel whose nonce is the one in `channelId`.
    function _isOpen(uint256 channelId, uint256 packed) private pure returns (bool) {
        // Comparing against the stored next nonce also rejects ids with stray bits between payer
        // and nonce (the sum is taken in 256 bits, so an all-ones nonce field cannot wrap).
        return packed >> _DEPOSIT_SHIFT != 0 && uint256(uint96(channelId)) + 1 == uint32(packed >> _NONCE_SHIFT);
    }

    /**
     * @dev Pulls `amount` from `payer`: tries the permit first; if it fails (already used by a
     * front-runner, expired, or starved of gas by the relayer), the allowance must cover the amount.
     * A permit left unused that way can only ever fund this payer's own channel: a top-up takes the
     * payer or the payee, and an open takes the payer's signature.
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

    /// @dev The signer of `digest`; reverts on a malformed or high-s signature (as OpenZeppelin's ECDSA).
    function _recover(bytes32 digest, bytes32 r, bytes32 vs) private pure returns (address signer) {
        // EIP-2098: the top bit of vs is the y-parity, the rest is s.
        uint256 s = uint256(vs) & (type(uint256).max >> 1);
        // Only the lower half of s is accepted (EIP-2), so each signature has exactly one encoding.
        if (s > _HALF_N) revert ChannelInvalidSignature(r, vs);
        signer = ecrecover(digest, uint8(uint256(vs) >> 255) + 27, r, bytes32(s));
        if (signer == address(0)) revert ChannelInvalidSignature(r, vs);
    }

    /// @dev hashStruct(Voucher), computed in scratch and free memory without allocating: every close runs it.
    function _voucherHash(uint256 channelId, uint256 cumulativeAmount) private pure returns (bytes32 hash) {
        bytes32 typeHash = VOUCHER_TYPEHASH;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            // Three words from the free memory pointer on; the pointer is not advanced, so the words
            // are garbage for whoever allocates next, which Solidity permits.
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            mstore(add(ptr, 0x20), channelId)
            mstore(add(ptr, 0x40), cumulativeAmount)
            hash := keccak256(ptr, 0x60)
        }
    }

    /// @dev The payee tag stored in a channel's slot: the low 87 bits of keccak256(payee, channelId).
    function _tag(address payee, uint256 channelId) private pure returns (uint256 tag) {
        // Assembly hashes the two words in scratch space instead of allocating memory: this runs in
        // every close and top-up.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            // Scratch space (0x00..0x3f) may be used freely between statements.
            mstore(0x00, payee)
            mstore(0x20, channelId)
            tag := and(keccak256(0x00, 0x40), _TAG_MASK)
        }
    }

    /// @dev The id of `payer`'s channel with `nonce`: `payer << 96 | nonce`.
    function _channelId(address payer, uint256 nonce) private pure returns (uint256) {
        return (uint256(uint160(payer)) << 96) | nonce;
    }

    /// @dev The payer encoded in a channel id (its top 160 bits).
    function _payerOf(uint256 channelId) private pure returns (address) {
        return address(uint160(channelId >> 96));
    }

    /// @dev The 40-bit time field: the challenge period while open, exitAt once an exit started.
    function _timeOf(uint256 packed) private pure returns (uint256) {
        return uint40(packed >> _TIME_SHIFT);
    }
}
