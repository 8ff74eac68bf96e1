// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/**
 * @title GatewayRegistry
 * @author HEPEK
 * @notice Registry of HEPEK gateways. A manufacturer registers each device's key at production;
 * the member who installs it claims ownership with an EIP-712 `Claim` signed by the device key.
 * Anyone may relay the claim, so neither the device nor the member needs ETH.
 * @dev The EIP-712 domain binds a claim to this chain and this registry address, so a signature
 * cannot be replayed on another deployment. A per-device nonce makes every claim single-use.
 */
contract GatewayRegistry is AccessControl, EIP712 {
    /**
     * @notice What the registry knows about one device.
     * @param key Address of the device key; it signs every message the device sends.
     * @param owner The member who claimed the device, or the zero address while unclaimed.
     * @param ratedExportW Rated export power in watts, the cap for plausible export readings.
     * @param active Whether the device may act (cleared by a later revoke).
     */
    struct Device {
        address key;
        address owner;
        uint32 ratedExportW;
        bool active;
    }

    /// @notice Role allowed to {register} devices.
    bytes32 public constant MANUFACTURER_ROLE = keccak256("MANUFACTURER_ROLE");

    /// @notice EIP-712 type hash of `Claim(bytes32 deviceId,address member,uint256 nonce)`.
    bytes32 public constant CLAIM_TYPEHASH = keccak256("Claim(bytes32 deviceId,address member,uint256 nonce)");

    // Device records by device id; a record with a zero key does not exist.
    mapping(bytes32 deviceId => Device device) private _devices;
    // Reverse lookup so a key identifies its device; keys are unique across devices.
    mapping(address key => bytes32 deviceId) private _deviceIdOfKey;
    // Next expected nonce of each device's signed messages.
    mapping(bytes32 deviceId => uint256 nonce) private _nonces;

    /**
     * @notice Emitted after a manufacturer registered a device.
     * @param deviceId The device id (keccak256 of its serial).
     * @param deviceKey The device's signing key.
     * @param ratedExportW Rated export power in watts.
     */
    event DeviceRegistered(bytes32 indexed deviceId, address indexed deviceKey, uint32 ratedExportW);

    /**
     * @notice Emitted after a member claimed a device.
     * @param deviceId The claimed device.
     * @param member The new owner.
     */
    event DeviceClaimed(bytes32 indexed deviceId, address indexed member);

    /**
     * @notice The admin passed to the constructor is the zero address.
     * @param admin The rejected admin address.
     */
    error RegistryInvalidAdmin(address admin);

    /**
     * @notice A device with this id is already registered.
     * @param deviceId The duplicate id.
     */
    error RegistryDeviceExists(bytes32 deviceId);

    /**
     * @notice The device key is not usable (the zero address).
     * @param key The rejected key.
     */
    error RegistryInvalidKey(address key);

    /**
     * @notice The device key already belongs to another device.
     * @param key The key in use.
     * @param deviceId The device that holds it.
     */
    error RegistryKeyInUse(address key, bytes32 deviceId);

    /**
     * @notice No device is registered under this id.
     * @param deviceId The unknown id.
     */
    error RegistryUnknownDevice(bytes32 deviceId);

    /**
     * @notice The member is not usable (the zero address).
     * @param member The rejected member.
     */
    error RegistryInvalidMember(address member);

    /**
     * @notice The message's nonce is not the device's next nonce (a replay or a stale message).
     * @param deviceId The device.
     * @param nonce The nonce in the message.
     * @param expected The device's next nonce.
     */
    error RegistryInvalidNonce(bytes32 deviceId, uint256 nonce, uint256 expected);

    /**
     * @notice The signature is malformed (wrong length, invalid `s` or `v`).
     * @param deviceId The device the message was for.
     */
    error RegistryInvalidSignature(bytes32 deviceId);

    /**
     * @notice The message was not signed by the device key.
     * @param deviceId The device.
     * @param signer The address recovered from the signature.
     * @param expected The device key.
     */
    error RegistryInvalidSigner(bytes32 deviceId, address signer, address expected);

    /**
     * @notice The device already has an owner.
     * @param deviceId The device.
     * @param owner Its current owner.
     */
    error RegistryAlreadyClaimed(bytes32 deviceId, address owner);

    /**
     * @notice Deploys the registry and grants `admin` the {DEFAULT_ADMIN_ROLE}.
     * @param admin Account administering the roles (the operator); it grants {MANUFACTURER_ROLE}.
     */
    constructor(address admin) EIP712("HEPEK GatewayRegistry", "1") {
        // A zero admin would leave the registry without anyone able to ever grant MANUFACTURER_ROLE.
        if (admin == address(0)) revert RegistryInvalidAdmin(admin);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /**
     * @notice Registers a newly produced device as active and unclaimed.
     * @dev Only {MANUFACTURER_ROLE}. Emits {DeviceRegistered}.
     * @param deviceId The device id (keccak256 of its serial).
     * @param deviceKey The device's signing key; must be nonzero and not used by another device.
     * @param ratedExportW Rated export power in watts.
     */
    function register(
        bytes32 deviceId,
        address deviceKey,
        uint32 ratedExportW
    ) external onlyRole(MANUFACTURER_ROLE) {
        if (_devices[deviceId].key != address(0)) revert RegistryDeviceExists(deviceId);
        if (deviceKey == address(0)) revert RegistryInvalidKey(deviceKey);
        // Confirm the reverse entry against the forward record: an unknown key maps to id 0, which
        // must not be mistaken for "in use by device 0" (and id 0 is a valid, if odd, device id).
        bytes32 holder = _deviceIdOfKey[deviceKey];
        if (_devices[holder].key == deviceKey) revert RegistryKeyInUse(deviceKey, holder);

        _devices[deviceId] = Device({key: deviceKey, owner: address(0), ratedExportW: ratedExportW, active: true});
        _deviceIdOfKey[deviceKey] = deviceId;
        emit DeviceRegistered(deviceId, deviceKey, ratedExportW);
    }

    /**
     * @notice Makes `member` the owner of a device, authorised by the device key's EIP-712
     * signature over `Claim(deviceId, member, nonce)`. Anyone may submit it.
     * @dev Checks, in order: the device exists, `member` is nonzero, `nonce` is the device's next
     * nonce, the signature recovers to the device key, the device is unclaimed. Consumes the nonce
     * and emits {DeviceClaimed}.
     * @param deviceId The device to claim.
     * @param member The new owner.
     * @param nonce The device's next nonce ({nonces}).
     * @param signature 65-byte ECDSA signature (r, s, v) by the device key.
     */
    function claim(bytes32 deviceId, address member, uint256 nonce, bytes calldata signature) external {
        Device storage device = _devices[deviceId];
        address key = device.key;
        if (key == address(0)) revert RegistryUnknownDevice(deviceId);
        if (member == address(0)) revert RegistryInvalidMember(member);
        _useNonce(deviceId, nonce);

        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(CLAIM_TYPEHASH, deviceId, member, nonce)));
        _checkDeviceSignature(deviceId, key, digest, signature);

        address owner = device.owner;
        if (owner != address(0)) revert RegistryAlreadyClaimed(deviceId, owner);
        device.owner = member;
        emit DeviceClaimed(deviceId, member);
    }

    /**
     * @notice The record of a device; all fields are zero for an unknown id.
     * @param deviceId The device.
     * @return The device's key, owner, rated export power and active flag.
     */
    function deviceOf(bytes32 deviceId) external view returns (Device memory) {
        return _devices[deviceId];
    }

    /**
     * @notice The device a key belongs to.
     * @param key A device key.
     * @return The device id, or zero if the key is not registered.
     */
    function deviceIdOfKey(address key) external view returns (bytes32) {
        return _deviceIdOfKey[key];
    }

    /**
     * @notice The nonce the device's next signed message must carry.
     * @param deviceId The device.
     * @return The next nonce.
     */
    function nonces(bytes32 deviceId) external view returns (uint256) {
        return _nonces[deviceId];
    }

    /**
     * @notice Whether the device is active and has an owner, i.e. may take part in the grid.
     * @param deviceId The device.
     * @return True if active and claimed.
     */
    function isActiveClaimed(bytes32 deviceId) external view returns (bool) {
        Device storage device = _devices[deviceId];
        return device.active && device.owner != address(0);
    }

    /**
     * @notice The EIP-712 domain separator of this registry (chain id and address bound).
     * @return The domain separator.
     */
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev Consumes the device's nonce if `nonce` is the expected one, else reverts.
    function _useNonce(bytes32 deviceId, uint256 nonce) private {
        uint256 expected = _nonces[deviceId];
        if (nonce != expected) revert RegistryInvalidNonce(deviceId, nonce, expected);
        // Cannot overflow: a nonce grows by one per signed message.
        unchecked {
            _nonces[deviceId] = expected + 1;
        }
    }

    /// @dev Reverts unless `signature` over `digest` is well formed and recovers to `key`.
    function _checkDeviceSignature(
        bytes32 deviceId,
        address key,
        bytes32 digest,
        bytes calldata signature
    ) private pure {
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError) revert RegistryInvalidSignature(deviceId);
        if (signer != key) revert RegistryInvalidSigner(deviceId, signer, key);
    }
}
