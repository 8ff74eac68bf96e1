// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IGatewayRegistry
 * @author HEPEK
 * @notice The device facts other HEPEK contracts read from the registry, each in one storage read.
 */
interface IGatewayRegistry {
    /**
     * @notice What a device does on the grid, set by the operator. Only prosumers and generators earn
     * export rewards.
     */
    enum DeviceMode {
        Consumer,
        Prosumer,
        Generator
    }

    /**
     * @notice The facts a reading check needs, read from one storage slot.
     * @param deviceId The device.
     * @return key The current device key (zero for an unknown device).
     * @return ratedExportW Rated export power in watts.
     * @return mode The device's mode.
     * @return activeClaimed Whether the device is active (not revoked) and has an owner.
     */
    function deviceCore(
        bytes32 deviceId
    ) external view returns (address key, uint32 ratedExportW, DeviceMode mode, bool activeClaimed);

    /**
     * @notice The owner (member) of a device, or the zero address while unclaimed or unknown.
     * @param deviceId The device.
     * @return The owner.
     */
    function ownerOf(bytes32 deviceId) external view returns (address);

    /**
     * @notice The device a key belongs to.
     * @param key A device key.
     * @return The device id, or zero if the key is not registered (or was rotated away).
     */
    function deviceIdOfKey(address key) external view returns (bytes32);
}
