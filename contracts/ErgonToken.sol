// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Pausable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Pausable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IErgonToken} from "./interfaces/IErgonToken.sol";

/**
 * @title ErgonToken
 * @author HEPEK
 * @notice ERGON, the energy credit of a HEPEK grid: 1 ERGON buys 1 kWh at the reference tariff.
 * Minted only by the operator's Purchase and MeterReadings contracts; ERC-2612 `permit` lets a device
 * fund a payment channel in one relayed transaction, without a prior `approve`. Holders may burn.
 * @dev Minting is restricted to {MINTER_ROLE}, which the deployment grants to exactly MeterReadings and
 * Purchase. The admin ({DEFAULT_ADMIN_ROLE}) administers roles and may pause every transfer, mint
 * and burn ({ERC20Pausable}) in an emergency; it cannot mint.
 */
contract ErgonToken is IErgonToken, ERC20, ERC20Burnable, ERC20Pausable, ERC20Permit, AccessControl {
    /// @notice Role allowed to call {mint}.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /**
     * @notice The admin passed to the constructor is the zero address.
     * @param admin The rejected admin address.
     */
    error ErgonInvalidAdmin(address admin);

    /**
     * @notice Deploys the token and grants `admin` the {DEFAULT_ADMIN_ROLE}; nobody can mint until
     * the admin grants {MINTER_ROLE}.
     * @param admin Account administering the roles and pausing (the operator).
     */
    constructor(address admin) ERC20("Ergon", "ERGON") ERC20Permit("Ergon") {
        // A zero admin would leave the token without anyone able to ever grant MINTER_ROLE.
        if (admin == address(0)) revert ErgonInvalidAdmin(admin);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /**
     * @notice Creates `amount` ERGON (18 decimals) and assigns them to `to`.
     * @dev Emits {IERC20-Transfer} from the zero address. Reverts with
     * {IAccessControl-AccessControlUnauthorizedAccount} if the caller lacks {MINTER_ROLE}, and with
     * {Pausable-EnforcedPause} while paused.
     * @param to Recipient of the new tokens.
     * @param amount Amount in the smallest unit (1 ERGON = 1e18).
     */
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /**
     * @notice Stops every transfer, mint and burn until {unpause}.
     * @dev Only {DEFAULT_ADMIN_ROLE}. Emits {Pausable-Paused}.
     */
    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    /**
     * @notice Lets transfers, mints and burns happen again.
     * @dev Only {DEFAULT_ADMIN_ROLE}. Emits {Pausable-Unpaused}.
     */
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    /// @dev Both parents hook {ERC20-_update}; the pausable check runs before the balance change.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Pausable) {
        super._update(from, to, value);
    }
}
