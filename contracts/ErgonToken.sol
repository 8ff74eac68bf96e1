// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/**
 * @title ErgonToken
 * @author HEPEK
 * @notice ERGON, the energy credit of a HEPEK grid: 1 ERGON buys 1 kWh at the reference tariff.
 * Accounts minted by the operator's purchase and reward contracts; ERC-2612 `permit` lets a device
 * fund a payment channel in one relayed transaction, without a prior `approve`.
 * @dev Minting is restricted to {MINTER_ROLE}; role administration follows {AccessControl}.
 */
contract ErgonToken is ERC20, ERC20Permit, AccessControl {
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
     * @param admin Account administering the roles (the operator).
     */
    constructor(address admin) ERC20("Ergon", "ERGON") ERC20Permit("Ergon") {
        // A zero admin would leave the token without anyone able to ever grant MINTER_ROLE.
        if (admin == address(0)) revert ErgonInvalidAdmin(admin);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /**
     * @notice Creates `amount` ERGON (18 decimals) and assigns them to `to`.
     * @dev Emits {IERC20-Transfer} from the zero address. Reverts with
     * {IAccessControl-AccessControlUnauthorizedAccount} if the caller lacks {MINTER_ROLE}.
     * @param to Recipient of the new tokens.
     * @param amount Amount in the smallest unit (1 ERGON = 1e18).
     */
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }
}
