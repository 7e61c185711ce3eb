"""SMAX's observation, state and action sizes: the one definition of SMAX's size formulas.

Light on purpose (no jax, no jaxmarl): the task registry sizes every StarCraft task with
``smax_dims`` when it is imported, and ``envs/smax_scenarios.py`` (which builds the
environments and checks these counts against them) re-exports it.

SMAX (jaxmarl 0.2.0, ``unit_list`` observations, six unit types): an agent observes 13
features of every other unit plus 10 of its own, the world state holds 12 features per
unit, and the action set is 5 movement / no-op actions plus one attack action per enemy.
With T unit types (2c_vs_64zg adds a seventh, the colossus) the counts are 7+T, 4+T and
6+T.  ``tests/test_smax_scenarios.py`` and ``tests/test_registry.py`` check them against
the live simulator.
"""
from __future__ import annotations

#: SMAX's own unit types, in SMAX's order (``envs/smax_scenarios.py`` reads them off jaxmarl and
#: refuses a jaxmarl whose types differ)
SMAX_UNIT_TYPE_NAMES = ("marine", "marauder", "stalker", "zealot", "zergling", "hydralisk")
SMAX_N_UNIT_TYPES = len(SMAX_UNIT_TYPE_NAMES)
#: features of one other unit, and of the agent's own unit, with the six types
SMAX_UNIT_FEATURES = 7 + SMAX_N_UNIT_TYPES
SMAX_OWN_FEATURES = 4 + SMAX_N_UNIT_TYPES
#: world-state features per unit (own features + 2), with the six types
SMAX_STATE_FEATURES_PER_UNIT = SMAX_OWN_FEATURES + 2
#: the actions before the attack actions (SMAX's num_movement_actions: four moves and stop)
SMAX_MOVE_ACTIONS = 5


def smax_dims(n_allies: int, n_enemies: int, n_unit_types: int = SMAX_N_UNIT_TYPES):
    """SMAX's size formulas (unit_list observations): (obs, state, actions) of one ally."""
    unit_feats, own_feats = 7 + n_unit_types, 4 + n_unit_types
    n = n_allies + n_enemies
    return (unit_feats * (n - 1) + own_feats, (own_feats + 2) * n, SMAX_MOVE_ACTIONS + n_enemies)
