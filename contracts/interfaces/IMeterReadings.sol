// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IMeterReadings
 * @author HEPEK
 * @notice What the EnergyMarket uses of MeterReadings: the kept checkpoints for delivery proofs and
 * the export hold (its MARKET_ROLE) that keeps a sold Wh from also earning the export reward.
 */
interface IMeterReadings {
    /**
     * @notice One accepted reading as kept on chain (the layout of MeterReadings.Checkpoint).
     * @param seq The reading's sequence number.
     * @param timestamp Unix seconds.
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
     * @notice A device's counters at an accepted reading; reverts if it is not kept.
     * @param deviceId The device.
     * @param seq The reading's sequence number.
     * @return The checkpoint.
     */
    function checkpointOf(bytes32 deviceId, uint64 seq) external view returns (Checkpoint memory);

    /**
     * @notice Holds the device's export back from the reward for one more offer.
     * @param deviceId The seller's device.
     */
    function holdExport(bytes32 deviceId) external;

    /**
     * @notice Sells held Wh to a buyer: no reward, carbon credits to the buyer.
     * @param deviceId The seller's device.
     * @param wh Wh delivered.
     * @param beneficiary The buyer.
     */
    function sellHeld(bytes32 deviceId, uint64 wh, address beneficiary) external;

    /**
     * @notice Ends one offer's hold; the last one rewards the unsold held Wh.
     * @param deviceId The seller's device.
     */
    function releaseHold(bytes32 deviceId) external;
}
