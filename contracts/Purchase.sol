// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IErgonToken} from "./interfaces/IErgonToken.sol";

/**
 * @title Purchase
 * @author HEPEK
 * @notice Turns a paid order into ERGON. After verifying a payment provider's signed webhook, the hub
 * signs an EIP-712 `Receipt {paymentId, hepekWallet, amount}` with an operator key; anyone may redeem
 * it here, which mints `amount` ERGON to the HEPEK wallet exactly once per payment id.
 * @dev The signer must hold {OPERATOR_ROLE} when the receipt is redeemed, so revoking a leaked hub key
 * voids its unredeemed receipts. The domain binds receipts to this chain and contract.
 */
contract Purchase is AccessControl, EIP712 {
    /// @notice Role whose signatures on receipts are honoured.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    /// @notice EIP-712 type hash of `Receipt(bytes32 paymentId,address hepekWallet,uint256 amount)`.
    bytes32 public constant RECEIPT_TYPEHASH =
        keccak256("Receipt(bytes32 paymentId,address hepekWallet,uint256 amount)");

    /// @notice ERGON; this contract needs its MINTER_ROLE.
    IErgonToken public immutable TOKEN;

    // Payment ids already redeemed.
    mapping(bytes32 paymentId => bool redeemed) private _redeemed;

    /**
     * @notice Emitted after a receipt was redeemed.
     * @param paymentId The payment provider's id (hashed to bytes32 by the hub).
     * @param hepekWallet The wallet that received the ERGON.
     * @param amount ERGON base units minted.
     * @param operator The operator key that signed the receipt.
     */
    event ReceiptRedeemed(
        bytes32 indexed paymentId,
        address indexed hepekWallet,
        uint256 amount,
        address indexed operator
    );

    /**
     * @notice The admin passed to the constructor is the zero address.
     * @param admin The rejected admin.
     */
    error PurchaseInvalidAdmin(address admin);

    /**
     * @notice The token address has no code.
     * @param token The rejected address.
     */
    error PurchaseInvalidToken(address token);

    /**
     * @notice The receipt's payment id was already redeemed.
     * @param paymentId The payment id.
     */
    error PurchaseReceiptUsed(bytes32 paymentId);

    /**
     * @notice The receipt names the zero address as wallet.
     * @param hepekWallet The rejected wallet.
     */
    error PurchaseInvalidWallet(address hepekWallet);

    /**
     * @notice The receipt's amount is zero.
     * @param paymentId The payment id.
     */
    error PurchaseZeroAmount(bytes32 paymentId);

    /**
     * @notice The signature is malformed or high-s.
     * @param paymentId The payment id.
     */
    error PurchaseInvalidSignature(bytes32 paymentId);

    /**
     * @notice The receipt was not signed by an {OPERATOR_ROLE} holder.
     * @param paymentId The payment id.
     * @param signer The recovered signer.
     */
    error PurchaseUnauthorizedSigner(bytes32 paymentId, address signer);

    /**
     * @notice Deploys the contract; the admin then grants {OPERATOR_ROLE} to the hub's receipt key and
     * the token admin grants this contract MINTER_ROLE.
     * @param admin Account administering the roles.
     * @param token_ ERGON.
     */
    constructor(address admin, IErgonToken token_) EIP712("HEPEK Purchase", "1") {
        if (admin == address(0)) revert PurchaseInvalidAdmin(admin);
        if (address(token_).code.length == 0) revert PurchaseInvalidToken(address(token_));
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        TOKEN = token_;
    }

    /**
     * @notice Mints `amount` ERGON to `hepekWallet` for an operator-signed receipt; anyone may submit.
     * @dev Checks, in order: not redeemed, nonzero wallet and amount, a well-formed low-s signature
     * by an {OPERATOR_ROLE} holder. Marks the payment id redeemed before minting. Emits
     * {ReceiptRedeemed}.
     * @param paymentId The payment id.
     * @param hepekWallet The wallet to credit.
     * @param amount ERGON base units.
     * @param signature 65-byte ECDSA signature by an operator key.
     */
    function redeem(bytes32 paymentId, address hepekWallet, uint256 amount, bytes calldata signature) external {
        if (_redeemed[paymentId]) revert PurchaseReceiptUsed(paymentId);
        if (hepekWallet == address(0)) revert PurchaseInvalidWallet(hepekWallet);
        if (amount == 0) revert PurchaseZeroAmount(paymentId);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(RECEIPT_TYPEHASH, paymentId, hepekWallet, amount)));
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError) revert PurchaseInvalidSignature(paymentId);
        if (!hasRole(OPERATOR_ROLE, signer)) revert PurchaseUnauthorizedSigner(paymentId, signer);
        _redeemed[paymentId] = true;
        emit ReceiptRedeemed(paymentId, hepekWallet, amount, signer);
        TOKEN.mint(hepekWallet, amount);
    }

    /**
     * @notice Whether a payment id was redeemed.
     * @param paymentId The payment id.
     * @return True once redeemed.
     */
    function isRedeemed(bytes32 paymentId) external view returns (bool) {
        return _redeemed[paymentId];
    }

    /**
     * @notice The EIP-712 domain separator receipts are signed for.
     * @return The domain separator.
     */
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }
}
