// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IGatewayRegistry} from "./interfaces/IGatewayRegistry.sol";

/**
 * @title GatewayRegistry
 * @author HEPEK
 * @notice Registry of HEPEK gateways. A manufacturer registers each device's key at production;
 * the member who installs it claims ownership with an EIP-712 `Claim` signed by the device key.
 * Anyone may relay the claim, so neither the device nor the member needs ETH. The owner may rotate
 * the device key (the new key signs a `KeyRotation`), the operator sets the device's mode, and the
 * admin or the registering manufacturer may revoke a device for good.
 * @dev The EIP-712 domain binds a signature to this chain and this registry address, so it cannot be
 * replayed on another deployment. Claims and rotations share a per-device nonce, so every signed
 * message is single-use. The facts other contracts read on every reading (key, rated power, mode,
 * active, claimed) share one storage slot ({deviceCore}).
 */
contract GatewayRegistry is IGatewayRegistry, AccessControl, EIP712 {
    /**
     * @notice What the registry knows about one device. The first five fields share one slot.
     * @param key Address of the device key; it signs every message the device sends.
     * @param ratedExportW Rated export power in watts, the cap for plausible export readings.
     * @param mode Consumer, prosumer or generator; set by the operator (consumer at registration).
     * @param active Whether the device may act (cleared for good by {revoke}).
     * @param claimed Whether the device has an owner (kept beside the key so one read tells).
     * @param owner The member who claimed the device, or the zero address while unclaimed.
     */
    struct Device {
        address key;
        uint32 ratedExportW;
        DeviceMode mode;
        bool active;
        bool claimed;
        address owner;
    }

    /// @notice Role allowed to {register} devices.
    bytes32 public constant MANUFACTURER_ROLE = keccak256("MANUFACTURER_ROLE");

    /// @notice Role allowed to {setMode}.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    /// @notice EIP-712 type hash of `Claim(bytes32 deviceId,address member,uint256 nonce)`.
    bytes32 public constant CLAIM_TYPEHASH = keccak256("Claim(bytes32 deviceId,address member,uint256 nonce)");

    /// @notice EIP-712 type hash of `KeyRotation(bytes32 deviceId,address newKey,uint256 nonce)`.
    bytes32 public constant KEY_ROTATION_TYPEHASH =
        keccak256("KeyRotation(bytes32 deviceId,address newKey,uint256 nonce)");

    // Device records by device id; a record with a zero key does not exist.
    mapping(bytes32 deviceId => Device device) private _devices;
    // Reverse lookup so a key identifies its device; keys are unique across devices.
    mapping(address key => bytes32 deviceId) private _deviceIdOfKey;
    // Next expected nonce of each device's signed messages.
    mapping(bytes32 deviceId => uint256 nonce) private _nonces;
    // The manufacturer that registered each device: besides the admin, the only one who may revoke it.
    mapping(bytes32 deviceId => address manufacturer) private _manufacturers;

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
     * @notice Emitted after the owner replaced the device key.
     * @param deviceId The device.
     * @param oldKey The key that no longer signs for the device.
     * @param newKey The key that signs from now on.
     */
    event DeviceKeyRotated(bytes32 indexed deviceId, address indexed oldKey, address indexed newKey);

    /**
     * @notice Emitted after the operator set a device's mode.
     * @param deviceId The device.
     * @param mode The new mode.
     */
    event DeviceModeSet(bytes32 indexed deviceId, DeviceMode mode);

    /**
     * @notice Emitted after a device was revoked.
     * @param deviceId The device.
     * @param by The admin or manufacturer who revoked it.
     */
    event DeviceRevoked(bytes32 indexed deviceId, address indexed by);

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
     * @notice The message was not signed by the expected key.
     * @param deviceId The device.
     * @param signer The address recovered from the signature.
     * @param expected The key that must have signed (the device key, or the new key of a rotation).
     */
    error RegistryInvalidSigner(bytes32 deviceId, address signer, address expected);

    /**
     * @notice The device already has an owner.
     * @param deviceId The device.
     * @param owner Its current owner.
     */
    error RegistryAlreadyClaimed(bytes32 deviceId, address owner);

    /**
     * @notice The caller is not the device's owner.
     * @param deviceId The device.
     * @param caller The caller.
     * @param owner The owner (zero while unclaimed).
     */
    error RegistryNotOwner(bytes32 deviceId, address caller, address owner);

    /**
     * @notice The device was revoked; it can no longer be claimed, rotated or revoked again.
     * @param deviceId The device.
     */
    error RegistryDeviceRevoked(bytes32 deviceId);

    /**
     * @notice The caller is neither the admin nor the manufacturer that registered the device.
     * @param deviceId The device.
     * @param caller The caller.
     */
    error RegistryUnauthorizedRevoke(bytes32 deviceId, address caller);

    /**
     * @notice Deploys the registry and grants `admin` the {DEFAULT_ADMIN_ROLE}.
     * @param admin Account administering the roles (the operator); it grants {MANUFACTURER_ROLE} and
     * {OPERATOR_ROLE}.
     */
    constructor(address admin) EIP712("HEPEK GatewayRegistry", "1") {
        // A zero admin would leave the registry without anyone able to ever grant MANUFACTURER_ROLE.
        if (admin == address(0)) revert RegistryInvalidAdmin(admin);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /**
     * @notice Registers a newly produced device as active, unclaimed and in consumer mode.
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
        _checkKeyFree(deviceKey);

        _devices[deviceId] = Device({
            key: deviceKey,
            ratedExportW: ratedExportW,
            mode: DeviceMode.Consumer,
            active: true,
            claimed: false,
            owner: address(0)
        });
        _deviceIdOfKey[deviceKey] = deviceId;
        _manufacturers[deviceId] = msg.sender;
        emit DeviceRegistered(deviceId, deviceKey, ratedExportW);
    }

    /**
     * @notice Makes `member` the owner of a device, authorised by the device key's EIP-712
     * signature over `Claim(deviceId, member, nonce)`. Anyone may submit it.
     * @dev Checks, in order: the device exists, is not revoked, `member` is nonzero, `nonce` is the
     * device's next nonce, the signature recovers to the device key, the device is unclaimed.
     * Consumes the nonce and emits {DeviceClaimed}.
     * @param deviceId The device to claim.
     * @param member The new owner.
     * @param nonce The device's next nonce ({nonces}).
     * @param signature 65-byte ECDSA signature (r, s, v) by the device key.
     */
    function claim(bytes32 deviceId, address member, uint256 nonce, bytes calldata signature) external {
        Device storage device = _existing(deviceId);
        if (!device.active) revert RegistryDeviceRevoked(deviceId);
        if (member == address(0)) revert RegistryInvalidMember(member);
        _useNonce(deviceId, nonce);

        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(CLAIM_TYPEHASH, deviceId, member, nonce)));
        _checkSignature(deviceId, device.key, digest, signature);

        address owner = device.owner;
        if (owner != address(0)) revert RegistryAlreadyClaimed(deviceId, owner);
        device.owner = member;
        device.claimed = true;
        emit DeviceClaimed(deviceId, member);
    }

    /**
     * @notice Replaces the device key. The owner sends the transaction; the new key proves it is held
     * by signing `KeyRotation(deviceId, newKey, nonce)`, so a typo cannot lock the device out.
     * @dev Checks, in order: the device exists, is not revoked, the caller is its owner, `newKey` is
     * nonzero and unused, `nonce` is the device's next nonce, the signature recovers to `newKey`.
     * Signatures made by the old key stay valid where a contract recorded that key (e.g. a payment
     * channel's voucher signer); readings must be signed by the new key from now on. The old key's
     * reverse entry is cleared. Emits {DeviceKeyRotated}.
     * @param deviceId The device.
     * @param newKey The new device key.
     * @param nonce The device's next nonce ({nonces}), shared with claims.
     * @param signature 65-byte ECDSA signature by `newKey`.
     */
    function rotateKey(bytes32 deviceId, address newKey, uint256 nonce, bytes calldata signature) external {
        Device storage device = _existing(deviceId);
        if (!device.active) revert RegistryDeviceRevoked(deviceId);
        address owner = device.owner;
        if (msg.sender != owner) revert RegistryNotOwner(deviceId, msg.sender, owner);
        _checkKeyFree(newKey);
        _useNonce(deviceId, nonce);

        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(KEY_ROTATION_TYPEHASH, deviceId, newKey, nonce)));
        _checkSignature(deviceId, newKey, digest, signature);

        address oldKey = device.key;
        device.key = newKey;
        delete _deviceIdOfKey[oldKey];
        _deviceIdOfKey[newKey] = deviceId;
        emit DeviceKeyRotated(deviceId, oldKey, newKey);
    }

    /**
     * @notice Sets what the device does on the grid; only prosumers and generators earn export rewards.
     * @dev Only {OPERATOR_ROLE}. Emits {DeviceModeSet}.
     * @param deviceId The device.
     * @param mode The new mode.
     */
    function setMode(bytes32 deviceId, DeviceMode mode) external onlyRole(OPERATOR_ROLE) {
        Device storage device = _existing(deviceId);
        device.mode = mode;
        emit DeviceModeSet(deviceId, mode);
    }

    /**
     * @notice Deactivates a device for good (a stolen or compromised key, a recalled unit): it can no
     * longer submit readings, be claimed or rotated.
     * @dev Only the admin or the manufacturer that registered the device. Emits {DeviceRevoked}.
     * @param deviceId The device.
     */
    function revoke(bytes32 deviceId) external {
        Device storage device = _existing(deviceId);
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender) && _manufacturers[deviceId] != msg.sender)
            revert RegistryUnauthorizedRevoke(deviceId, msg.sender);
        if (!device.active) revert RegistryDeviceRevoked(deviceId);
        device.active = false;
        emit DeviceRevoked(deviceId, msg.sender);
    }

    /**
     * @notice The record of a device; all fields are zero for an unknown id.
     * @param deviceId The device.
     * @return The device's key, rated export power, mode, active and claimed flags, and owner.
     */
    function deviceOf(bytes32 deviceId) external view returns (Device memory) {
        return _devices[deviceId];
    }

    /// @inheritdoc IGatewayRegistry
    function deviceCore(
        bytes32 deviceId
    ) external view returns (address key, uint32 ratedExportW, DeviceMode mode, bool activeClaimed) {
        Device storage device = _devices[deviceId];
        // MeterReadings calls this for every reading: read the packed first slot once instead of once
        // per field. Layout (low to high bits): key 160 | ratedExportW 32 | mode 8 | active 8 | claimed 8.
        uint256 word;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            word := sload(device.slot)
        }
        key = address(uint160(word));
        ratedExportW = uint32(word >> 160);
        mode = DeviceMode(uint8(word >> 192));
        // Both flags are 0 or 1, so their product is their conjunction.
        activeClaimed = ((word >> 200) & 0xff) * ((word >> 208) & 0xff) == 1;
    }

    /// @inheritdoc IGatewayRegistry
    function ownerOf(bytes32 deviceId) external view returns (address) {
        return _devices[deviceId].owner;
    }

    /**
     * @notice The manufacturer that registered a device.
     * @param deviceId The device.
     * @return The manufacturer, or zero for an unknown device.
     */
    function manufacturerOf(bytes32 deviceId) external view returns (address) {
        return _manufacturers[deviceId];
    }

    /**
     * @notice The device a key belongs to.
     * @param key A device key.
     * @return The device id, or zero if the key is not registered (or was rotated away).
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
        return device.active && device.claimed;
    }

    /**
     * @notice The EIP-712 domain separator of this registry (chain id and address bound).
     * @return The domain separator.
     */
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev The device record, or a revert for an unknown id.
    function _existing(bytes32 deviceId) private view returns (Device storage device) {
        device = _devices[deviceId];
        if (device.key == address(0)) revert RegistryUnknownDevice(deviceId);
    }

    /// @dev Reverts unless `key` is nonzero and no device holds it.
    function _checkKeyFree(address key) private view {
        if (key == address(0)) revert RegistryInvalidKey(key);
        // Confirm the reverse entry against the forward record: an unknown key maps to id 0, which
        // must not be mistaken for "in use by device 0" (and id 0 is a valid, if odd, device id).
        bytes32 holder = _deviceIdOfKey[key];
        if (_devices[holder].key == key) revert RegistryKeyInUse(key, holder);
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

    /// @dev Reverts unless `signature` over `digest` is well formed, low-s and recovers to `expected`.
    function _checkSignature(
        bytes32 deviceId,
        address expected,
        bytes32 digest,
        bytes calldata signature
    ) private pure {
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError) revert RegistryInvalidSignature(deviceId);
        if (signer != expected) revert RegistryInvalidSigner(deviceId, signer, expected);
    }
}
