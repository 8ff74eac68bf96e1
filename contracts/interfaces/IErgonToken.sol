// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IErgonToken
 * @author HEPEK
 * @notice What the reward and purchase contracts need from ERGON: minting by a {MINTER_ROLE} holder.
 */
interface IErgonToken {
    /**
     * @notice Creates `amount` ERGON and assigns them to `to`; only for minters.
     * @param to Recipient of the new tokens.
     * @param amount Amount in the smallest unit (1 ERGON = 1e18).
     */
    function mint(address to, uint256 amount) external;
}
