// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IPaymentChannels
 * @author HEPEK
 * @notice Unidirectional ERGON payment channels from a HEPEK wallet (the payer, a registered device
 * key) to the hub (the payee). The device signs an EIP-712 `Open` and an ERC-2612 permit once; anyone
 * relays them. Each billing cycle it signs a `Voucher {channelId, cumulativeAmount}`; the payee
 * closes with the newest one. The payer can exit without the payee: {startExit}, a challenge period
 * in which the payee may still close with a newer voucher, then {withdraw}.
 * @dev A payer has at most one open channel at a time (DESIGN.md: "the unspent part of its open
 * channel"); its id is `payer << 96 | nonce`. Since a payer's nonce only grows, an id is never
 * reused. Every way out of a channel pays payer and payee together exactly its deposit.
 */
interface IPaymentChannels {
    /**
     * @notice The EIP-712 `Open` message the payer's device key signs.
     * @param payer The HEPEK wallet (device key address) that funds the channel.
     * @param payee The hub that receives the vouchers.
     * @param deposit ERGON (wei) pulled from the payer at open.
     * @param challengePeriod Seconds the payee has to answer a {startExit}.
     * @param nonce The payer's next channel nonce ({nonces}).
     */
    // The field order is the EIP-712 type's (OPEN_TYPES in gateway/chain/typed-data.ts), not a packing choice.
    // solhint-disable-next-line gas-struct-packing
    struct Open {
        address payer;
        address payee;
        uint256 deposit;
        uint64 challengePeriod;
        uint256 nonce;
    }

    /**
     * @notice An ERC-2612 permit for this contract as spender, in EIP-2098 compact form.
     * @dev `deadline == 0` means "no permit": the existing allowance is used.
     * @param deadline The permit's deadline (unix seconds).
     * @param r The signature's r.
     * @param vs The signature's s with the y-parity in the top bit (EIP-2098).
     */
    struct Permit {
        uint256 deadline;
        bytes32 r;
        bytes32 vs;
    }

    /**
     * @notice What the contract knows about a channel; deposit and times are zero once it is closed.
     * @param payer The payer (decoded from the id).
     * @param nonce The payer's nonce the channel was opened with (decoded from the id).
     * @param deposit ERGON (wei) held for the channel; zero means not open.
     * @param challengePeriod The challenge period in seconds while no exit is running, else zero.
     * @param exitAt When the payer's exit matures (unix seconds), or zero if no exit was started.
     * @param exitAmount The cumulative amount the payer conceded to the payee in {startExit}.
     */
    struct ChannelState {
        address payer;
        uint64 nonce;
        uint96 deposit;
        uint64 challengePeriod;
        uint64 exitAt;
        uint96 exitAmount;
    }

    /**
     * @notice Emitted after a channel was opened and funded.
     * @param channelId The new channel.
     * @param payer The HEPEK wallet funding it; also the only key whose vouchers count.
     * @param payee The hub.
     * @param deposit ERGON (wei) deposited.
     * @param challengePeriod Seconds the payee has to answer an exit.
     */
    event ChannelOpened(
        uint256 indexed channelId,
        address indexed payer,
        address indexed payee,
        uint256 deposit,
        uint64 challengePeriod
    );

    /**
     * @notice Emitted after a channel's deposit grew.
     * @param channelId The channel.
     * @param amount ERGON (wei) added.
     * @param deposit The new deposit.
     */
    event ChannelToppedUp(uint256 indexed channelId, uint256 amount, uint256 deposit);

    /**
     * @notice Emitted after the payer started an exit; the payee should close with its newest
     * voucher before `exitAt` if that voucher is above `cumulativeAmount`.
     * @param channelId The channel.
     * @param cumulativeAmount What the payer concedes to the payee (paid at {withdraw}).
     * @param exitAt When the exit matures (unix seconds).
     */
    event ExitStarted(uint256 indexed channelId, uint256 cumulativeAmount, uint64 exitAt);

    /**
     * @notice Emitted after the payee closed a channel with a voucher.
     * @param channelId The channel.
     * @param payeeAmount ERGON (wei) paid to the payee (the voucher's cumulative amount).
     * @param payerAmount ERGON (wei) returned to the payer (the rest of the deposit).
     */
    event ChannelClosed(uint256 indexed channelId, uint256 payeeAmount, uint256 payerAmount);

    /**
     * @notice Emitted after an exit matured and the deposit was paid out.
     * @param channelId The channel.
     * @param payeeAmount ERGON (wei) paid to the payee (the amount conceded at {startExit}).
     * @param payerAmount ERGON (wei) returned to the payer.
     */
    event ChannelWithdrawn(uint256 indexed channelId, uint256 payeeAmount, uint256 payerAmount);

    /**
     * @notice A constructor address is zero.
     * @param token The token passed.
     * @param registry The registry passed.
     */
    error ChannelInvalidSetup(address token, address registry);

    /**
     * @notice The payee is the zero address or the payer itself.
     * @param payee The rejected payee.
     */
    error ChannelInvalidPayee(address payee);

    /**
     * @notice A deposit or top-up is zero, or the channel's deposit would exceed 2^96 - 1 wei.
     * @param amount The rejected deposit or top-up amount.
     */
    error ChannelInvalidDeposit(uint256 amount);

    /**
     * @notice The challenge period is outside the allowed range.
     * @param challengePeriod The rejected period in seconds.
     * @param min The shortest allowed period.
     * @param max The longest allowed period.
     */
    error ChannelInvalidChallengePeriod(uint256 challengePeriod, uint256 min, uint256 max);

    /**
     * @notice The `Open` nonce is not the payer's next one (a replayed or out-of-order open).
     * @param payer The payer.
     * @param nonce The nonce in the message.
     * @param expected The payer's next nonce.
     */
    error ChannelInvalidNonce(address payer, uint256 nonce, uint256 expected);

    /**
     * @notice The payer is not the current key of an active, claimed device in the registry.
     * @param payer The rejected payer.
     * @param deviceId The device the registry maps the key to (zero if none).
     */
    error ChannelPayerNotDevice(address payer, bytes32 deviceId);

    /**
     * @notice A signature is malformed: it recovers to no address, or its s is in the upper half.
     * @param r The signature's r.
     * @param vs The signature's compact s and y-parity.
     */
    error ChannelInvalidSignature(bytes32 r, bytes32 vs);

    /**
     * @notice The `Open` was not signed by the payer.
     * @param payer The payer named in the message.
     * @param signer The address the signature recovers to.
     */
    error ChannelInvalidOpenSigner(address payer, address signer);

    /**
     * @notice The permit could not be used and the allowance does not cover the amount.
     * @param payer The payer.
     * @param allowance The payer's allowance for this contract.
     * @param needed The amount to pull.
     */
    error ChannelInsufficientAllowance(address payer, uint256 allowance, uint256 needed);

    /**
     * @notice The payer already has an open channel; close or withdraw it first (or top it up).
     * @param payer The payer.
     * @param channelId Its open channel.
     */
    error ChannelAlreadyOpen(address payer, uint256 channelId);

    /**
     * @notice No channel with this id is open (never opened, closed or withdrawn).
     * @param channelId The channel.
     */
    error ChannelNotOpen(uint256 channelId);

    /**
     * @notice The caller (or named account) is not the channel's payee.
     * @param channelId The channel.
     * @param account The rejected account.
     */
    error ChannelNotPayee(uint256 channelId, address account);

    /**
     * @notice The caller is not the channel's payer.
     * @param channelId The channel.
     * @param account The rejected caller.
     */
    error ChannelNotPayer(uint256 channelId, address account);

    /**
     * @notice The caller is neither the channel's payer nor its payee.
     * @param channelId The channel.
     * @param account The rejected caller.
     */
    error ChannelNotParty(uint256 channelId, address account);

    /**
     * @notice The voucher or concession asks for more than the deposit.
     * @param channelId The channel.
     * @param cumulativeAmount The requested cumulative amount.
     * @param deposit The channel's deposit.
     */
    error ChannelOverspent(uint256 channelId, uint256 cumulativeAmount, uint256 deposit);

    /**
     * @notice The voucher is older than what the payer already conceded in its exit.
     * @param channelId The channel.
     * @param cumulativeAmount The voucher's cumulative amount.
     * @param conceded The amount the payer conceded at {startExit}.
     */
    error ChannelStaleVoucher(uint256 channelId, uint256 cumulativeAmount, uint256 conceded);

    /**
     * @notice The voucher was not signed by the channel's payer (a forged or wrong-channel voucher).
     * @param channelId The channel.
     * @param signer The address the signature recovers to.
     * @param expected The payer (the key recorded at open).
     */
    error ChannelInvalidSigner(uint256 channelId, address signer, address expected);

    /**
     * @notice The payer already started an exit (no top-up and no second exit).
     * @param channelId The channel.
     * @param exitAt When the exit matures.
     */
    error ChannelExiting(uint256 channelId, uint256 exitAt);

    /**
     * @notice The exit has matured; the payee can no longer close.
     * @param channelId The channel.
     * @param exitAt When the exit matured.
     */
    error ChannelChallengeOver(uint256 channelId, uint256 exitAt);

    /**
     * @notice No exit was started for the channel.
     * @param channelId The channel.
     */
    error ChannelNotExiting(uint256 channelId);

    /**
     * @notice The challenge period has not ended yet.
     * @param channelId The channel.
     * @param exitAt When the exit matures.
     */
    error ChannelExitPending(uint256 channelId, uint256 exitAt);

    /**
     * @notice Opens and funds a channel from an `Open` signed by the payer's device key and an
     * ERC-2612 permit for `deposit`; the payer must have no other open channel. Anyone may relay it; no prior `approve` is needed. If the permit
     * was already used (e.g. front-run), the existing allowance must cover the deposit.
     * @param request The signed `Open` message.
     * @param r The `Open` signature's r.
     * @param vs The `Open` signature's compact s and y-parity (EIP-2098).
     * @param permit The payer's permit for this contract and `deposit` (deadline 0 = none).
     * @return channelId The new channel's id.
     */
    function open(
        Open calldata request,
        bytes32 r,
        bytes32 vs,
        Permit calldata permit
    ) external returns (uint256 channelId);

    /**
     * @notice Adds `amount` ERGON from the payer to an open channel that is not exiting. Only the
     * payer or the payee may call it (the payee relays a device's permit).
     * @param channelId The channel.
     * @param amount ERGON (wei) to add.
     * @param permit The payer's permit for this contract and `amount` (deadline 0 = none).
     */
    function topUp(uint256 channelId, uint256 amount, Permit calldata permit) external;

    /**
     * @notice The payee closes the channel with a voucher: it receives `cumulativeAmount`, the payer
     * the rest of the deposit. Allowed until an exit matures.
     * @param channelId The channel.
     * @param cumulativeAmount The voucher's cumulative amount.
     * @param r The voucher signature's r.
     * @param vs The voucher signature's compact s and y-parity (EIP-2098).
     */
    function close(uint256 channelId, uint256 cumulativeAmount, bytes32 r, bytes32 vs) external;

    /**
     * @notice The payer starts an exit, conceding `cumulativeAmount` to the payee (normally its
     * newest voucher's amount; `payee` is only needed when it is nonzero). The payee may close with
     * a voucher for at least that amount until the challenge period ends.
     * @param channelId The channel.
     * @param payee The channel's payee (checked; may be zero when conceding nothing).
     * @param cumulativeAmount What the payer concedes to the payee.
     */
    function startExit(uint256 channelId, address payee, uint256 cumulativeAmount) external;

    /**
     * @notice Pays out a channel whose exit has matured: the payee gets the conceded amount, the
     * payer the rest. Anyone may call it; the funds only go to the channel's parties.
     * @param channelId The channel.
     */
    function withdraw(uint256 channelId) external;

    /**
     * @notice The state of a channel.
     * @param channelId The channel.
     * @return The channel's payer, parameters, deposit and exit.
     */
    function channelOf(uint256 channelId) external view returns (ChannelState memory);

    /**
     * @notice Whether `account` is the payee of an open channel.
     * @param channelId The channel.
     * @param account The account to test.
     * @return True if the channel is open and `account` is its payee.
     */
    function isPayee(uint256 channelId, address account) external view returns (bool);

    /**
     * @notice The nonce the payer's next `Open` must carry.
     * @param payer The payer.
     * @return The next nonce.
     */
    function nonces(address payer) external view returns (uint256);

    /**
     * @notice The payer's current (or, if none is open, last) channel.
     * @param payer The payer.
     * @return channelId The channel id (meaningless if the payer never opened one).
     * @return isOpen Whether that channel is open.
     */
    function channelOfPayer(address payer) external view returns (uint256 channelId, bool isOpen);

    /**
     * @notice The id a channel opened by `payer` with `nonce` gets.
     * @param payer The payer.
     * @param nonce The payer's nonce.
     * @return The channel id.
     */
    function channelIdOf(address payer, uint64 nonce) external pure returns (uint256);
}
