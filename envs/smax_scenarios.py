"""SMAX scenarios the stock jaxmarl 0.2.0 maps do not give: SMACv2's generated battles,
corridor, and 2c_vs_64zg with a colossus-like seventh unit type.

``make_env(task)`` returns a configured ``ScenarioHeuristicEnemySMAX`` (a small subclass of
JaxMARL's ``HeuristicEnemySMAX``) for every SMACv1 / SMACv2 task of the registry, built as its
suite's ``scenario_kind`` says (``envs/suites.py``): a fixed map of the task's unit types
(``"map"``, SMACv1) or battles generated for the task's race (``"generated"``, SMACv2).

SMACv2 (``scenario_kind == "generated"``)
    Unit types follow SMACv2's ``weighted_teams`` generator with the weights of its
    ``sc2_gen_<race>.yaml`` configs (the copies in vietbt/ComaDICE,
    ``envs/smacv2/configs/``)::

        protoss: stalker 0.45, zealot 0.45, colossus 0.1
        terran:  marine 0.45, marauder 0.45, medivac 0.1   (medivac: exception type)
        zerg:    zergling 0.45, hydralisk 0.45, baneling 0.1 (baneling: exception type)

    SMAX has no colossus, medivac or baneling (``MISSING_UNIT_TYPES``); the weights are
    renormalised over the types SMAX has (``SMACV2_UNIT_PROBS``: 0.5 / 0.5 for every race).
    As in SMACv2 (``WeightedTeamsDistribution.generate``) the ally team is drawn i.i.d.,
    the enemy team copies it unit for unit and the extra enemies of 10_vs_11 / 20_vs_23
    are fresh i.i.d. draws from the same distribution -- never SMAX's default marines
    (jaxmarl's ``UniformUnitTypeDistribution`` drops the ``.at[].set`` of its extra
    enemies and leaves them as type 0 = marine, and draws from all races).  The draw
    happens inside ``reset`` from the reset key (jit / vmap safe).  SMACv2's "exception"
    rule (a team may not consist only of medivacs / banelings) is moot once those types
    are gone.

    Start positions follow SMACv2's ``surrounded_and_reflect`` (p = 0.5).  SMAX's own
    ``SurroundAndReflectPositionDistribution`` differs from SMACv2 and is NOT reused:
      * surrounded: SMAX puts the *enemies* in the centre half of the time (SMACv2: always
        the allies); it always uses 4 groups with a uniform group per unit (SMACv2: 1-4
        groups on distinct diagonals, multinomial sizes); its groups slide towards the
        exact centre (SMACv2: towards centre +- 2 on the group's diagonal);
      * reflect: allies span x in [0, W/2] (SMACv2: [0, W/2 - 1], a 2-unit buffer);
      * its +-2 spawn noise is never clipped: measured here, 9 % (5v5) to 17 % (20v23)
        of resets put a unit outside the 32x32 map, where SMAX kills it on the first step.
    ``smacv2_start_positions`` implements SMACv2's generator in JAX.  SC2 spreads units
    spawned on one point; SMAX does not (``_push_units_away`` cannot separate coincident
    units), so units of the surrounded layout get SMAX's usual +-2 spawn jitter, and all
    spawn positions are clipped ``SPAWN_MARGIN`` inside the map (also after SMAX's
    reset-time push).

corridor
    6 zealots vs 24 zerglings on SMAX's open 32x32 map (no corridor terrain), episode
    limit 400 -- an approximation (``APPROXIMATION_NOTES``).

2c_vs_64zg
    2 colossi vs 64 zerglings, limit 400, open map (no cliffs to walk over).  A colossus
    is appended to SMAX's six unit types through SMAX's constructor arguments (see
    ``COLOSSUS`` for its stats and sources).  With seven types the unit-type one-hot
    gains a bit, so obs / state sizes differ from the six-type formula: use
    ``obs_dim`` / ``state_dim`` / ``action_dim`` (computed from the env) or ``dims_table``;
    ``smax_dims`` (``envs/smax_sizes.py``, SMAX's size formulas) takes the number of types.
"""
from __future__ import annotations

import inspect
import os
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np


def _light_jaxmarl_import():
    """Import SMAX without running ``jaxmarl/__init__`` and ``jaxmarl/environments/__init__``.

    Those import every JaxMARL environment (STORM alone builds arrays for seconds): about
    4 s of every training process, 84 processes in the smoke profile.  SMAX itself needs
    only ``jaxmarl.environments.multi_agent_env`` and ``.spaces``, so the two parent
    packages are registered as bare namespaces (their ``__path__`` only) when nothing has
    imported them yet; anything that later wants the full package still gets its modules.
    """
    import importlib.util
    import sys
    import types

    if "jaxmarl" in sys.modules:
        return
    spec = importlib.util.find_spec("jaxmarl")
    if spec is None or not spec.submodule_search_locations:
        return
    root = list(spec.submodule_search_locations)
    for name, path in (("jaxmarl", root), ("jaxmarl.environments", [os.path.join(root[0], "environments")])):
        mod = types.ModuleType(name)
        mod.__path__ = path
        sys.modules[name] = mod


_light_jaxmarl_import()

from jaxmarl.environments.smax import HeuristicEnemySMAX, Scenario  # noqa: E402
from jaxmarl.environments.smax.heuristic_enemy import create_heuristic_policy  # noqa: E402
from jaxmarl.environments.smax.smax_env import SMAX  # noqa: E402

from envs.smax_sizes import SMAX_UNIT_TYPE_NAMES, smax_dims  # noqa: E402,F401 - smax_dims re-exported
from envs.suites import SUITES  # noqa: E402

# --------------------------------------------------------------------------------------
# Unit types
# --------------------------------------------------------------------------------------
_UNIT_ARGS = ("unit_type_names", "unit_type_shorthands", "unit_type_velocities", "unit_type_attacks",
              "unit_type_attack_ranges", "unit_type_sight_ranges", "unit_type_radiuses",
              "unit_type_health", "unit_type_weapon_cooldowns")
_SMAX_DEFAULTS = {k: p.default for k, p in inspect.signature(SMAX.__init__).parameters.items()
                  if k in _UNIT_ARGS}
SMAX_UNIT_TYPES = tuple(_SMAX_DEFAULTS["unit_type_names"])  # marine marauder stalker zealot zergling hydralisk
if SMAX_UNIT_TYPES != SMAX_UNIT_TYPE_NAMES:  # the registry sizes the tasks with them (envs/smax_sizes.py, jax-free)
    raise ImportError(f"this jaxmarl's SMAX has unit types {SMAX_UNIT_TYPES}; envs/smax_sizes.py sizes the tasks "
                      f"for {SMAX_UNIT_TYPE_NAMES} (jaxmarl 0.2.0)")

# How SMAX maps StarCraft II data onto its unit arrays (jaxmarl 0.2.0 defaults vs Liquipedia's
# Legacy-of-the-Void pages, whose times and speeds are at "Faster" game speed):
#   health     = hit points + shields, no armour     (stalker 80+80=160, zealot 100+50=150, marine 45)
#   attack     = base damage of one hit; no multi-hit multiplier, no bonus vs attributes, no splash
#                (zealot 8 although SC2 hits 2x8; marauder 10 without +10 armoured; stalker 13
#                without +5 armoured).  Exception: marine 9 (SC2: 6).
#   cooldown   = Liquipedia's (Faster-speed) cooldown (marine 0.61, marauder 1.07, zealot 0.86,
#                zergling 0.5 ~ 0.497); stalker 1.87 is SC2's Normal-speed value (1.34 at Faster),
#                hydralisk 80 HP / 0.59 are pre-patch values (Liquipedia now: 90 / 0.54)
#   velocity, sight, attack range, radius = SC2's values (marine 3.15 / 9 / 5 / 0.375; melee
#                ranges raised to 2, as SMACv2's ``min_attack_range: 2``)
# The colossus below applies the same rules, with values from
#   https://liquipedia.net/starcraft2/Colossus_(Legacy_of_the_Void)
#   (HP 200, shields 150, armour 1; Thermal Lances: 10 (x2) damage, +5 vs Light, cooldown 1.07,
#    range 7; DPS 18.7 = 2*10/1.07 and build time 54 = 75/1.4 show the page is at Faster speed,
#    i.e. 1.5 s at Normal speed -- the same convention as SMAX's marine 0.61),
#   movement speed 3.15 (Faster) and sight 10: Liquipedia's unit box; the same values (with
#   cooldown 1.07) in the unit table of github.com/epsxy/sc2-units (src/data/units/protoss/colossus.ts),
#   radius 1.0: SC2's unit data (Colossus radius 1); only corroborated here by secondary tables.
# Not modelled (SMAX has no such mechanics): the second beam, the +5 vs Light bonus, the line
# splash, armour, cliff walking.  All of them favour the colossus in SC2, so 2c_vs_64zg is harder
# here than in SMAC.
COLOSSUS = {
    "name": "colossus", "shorthand": "C",
    "velocity": 3.15,        # SC2 movement speed (Faster), as SMAX's marine 3.15
    "attack": 10.0,          # one Thermal Lance hit; SMAX ignores multi-hit (zealot: 8, not 2x8)
    "attack_range": 7.0,     # SC2 range 7 (9 with Extended Thermal Lance, not modelled)
    "sight_range": 10.0,     # SC2 sight 10
    "radius": 1.0,           # SC2 unit radius 1.0
    "health": 350.0,         # 200 HP + 150 shields, as SMAX's stalker 80+80 / zealot 100+50
    "weapon_cooldown": 1.07,  # Liquipedia (Faster speed), as SMAX's marine 0.61 / marauder 1.07
}
EXTRA_UNIT_TYPES = {"colossus": COLOSSUS}


def unit_type_kwargs(extra=()) -> dict:
    """SMAX constructor arguments for its six unit types plus the named ``extra`` ones
    (appended in order, so the six keep their indices 0-5)."""
    kw = {k: (list(v) if isinstance(v, (list, tuple)) else jnp.asarray(v)) for k, v in _SMAX_DEFAULTS.items()}
    for name in extra:
        u = EXTRA_UNIT_TYPES[name]
        kw["unit_type_names"] = kw["unit_type_names"] + [u["name"]]
        kw["unit_type_shorthands"] = kw["unit_type_shorthands"] + [u["shorthand"]]
        for arg, field in (("unit_type_velocities", "velocity"), ("unit_type_attacks", "attack"),
                           ("unit_type_attack_ranges", "attack_range"),
                           ("unit_type_sight_ranges", "sight_range"), ("unit_type_radiuses", "radius"),
                           ("unit_type_health", "health"), ("unit_type_weapon_cooldowns", "weapon_cooldown")):
            kw[arg] = jnp.concatenate([kw[arg].astype(jnp.float32), jnp.array([u[field]], jnp.float32)])
    return kw


# --------------------------------------------------------------------------------------
# SMACv2 unit-type distribution
# --------------------------------------------------------------------------------------
# team_gen.weights of smacv2's sc2_gen_{protoss,terran,zerg}.yaml (vietbt/ComaDICE envs/smacv2/configs)
SMACV2_WEIGHTS = {
    "protoss": {"stalker": 0.45, "zealot": 0.45, "colossus": 0.1},
    "terran": {"marine": 0.45, "marauder": 0.45, "medivac": 0.1},
    "zerg": {"zergling": 0.45, "hydralisk": 0.45, "baneling": 0.1},
}
# team_gen.exception_unit_types: a team made only of these is redrawn
SMACV2_EXCEPTION_UNIT_TYPES = {"protoss": (), "terran": ("medivac",), "zerg": ("baneling",)}


def smacv2_unit_probs(race: str, available=SMAX_UNIT_TYPES) -> dict:
    """SMACv2's weights for ``race`` renormalised over the ``available`` unit types."""
    w = {u: p for u, p in SMACV2_WEIGHTS[race].items() if u in available}
    if not w or all(u in SMACV2_EXCEPTION_UNIT_TYPES[race] for u in w):
        raise ValueError(f"no drawable SMACv2 {race} unit type among {available}")
    if any(u in SMACV2_EXCEPTION_UNIT_TYPES[race] for u in w):
        # SMACv2 redraws all-exception teams; not implemented (no such type exists in SMAX)
        raise NotImplementedError(f"exception unit types {SMACV2_EXCEPTION_UNIT_TYPES[race]} need redraws")
    total = sum(w.values())
    return {u: p / total for u, p in w.items()}


SMACV2_UNIT_PROBS = {race: smacv2_unit_probs(race) for race in SMACV2_WEIGHTS}
MISSING_UNIT_TYPES = {race: tuple(u for u in w if u not in SMAX_UNIT_TYPES) for race, w in SMACV2_WEIGHTS.items()}


def _cdf_edges(probs) -> jax.Array:
    """Inner edges of the cumulative distribution (float64 on the host, so 0/1 are exact)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 1 or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"not a probability vector: {probs}")
    edges = np.cumsum(p / p.sum())[:-1]
    edges[edges >= 1.0 - 1e-9] = 2.0  # trailing zero-probability types are never drawn
    return jnp.asarray(edges, jnp.float32)


def smacv2_unit_types(key, n_allies: int, n_enemies: int, probs) -> jax.Array:
    """Unit types of one SMACv2 battle, ``[n_allies + n_enemies]`` uint8.

    ``probs[t]`` is the probability of unit-type index ``t`` (host values, not traced).
    Allies are i.i.d.; enemies copy the allies unit for unit and extra enemies are i.i.d.
    from the same ``probs`` (SMACv2's ``WeightedTeamsDistribution``); with fewer enemies
    than allies the copy is truncated.  One uniform draw, inverted through the CDF (a
    single PRNG call keeps the jitted reset quick to compile).
    """
    n_extra = max(n_enemies - n_allies, 0)
    u = jax.random.uniform(key, (n_allies + n_extra,))
    drawn = jnp.sum(u[:, None] >= _cdf_edges(probs)[None, :], axis=1)
    allies, extra = drawn[:n_allies], drawn[n_allies:]
    enemies = jnp.concatenate([allies, extra]) if n_extra else allies[:n_enemies]
    return jnp.concatenate([allies, enemies]).astype(jnp.uint8)


# --------------------------------------------------------------------------------------
# SMACv2 start positions
# --------------------------------------------------------------------------------------
SPAWN_MARGIN = 0.5   # spawn positions are kept this far inside the map (SMAX kills units on the border)
SPAWN_JITTER = 2.0   # +- spread of units spawned on one point (SMAX's own spawn noise)
SURROUND_OFFSET = 2.0  # smacv2 SurroundedPositionDistribution: offset of the diagonal centre points


def _reflect(u, n_allies, n_enemies, w, h):
    """smacv2 ReflectPositionDistribution; ``u``: 2 * (n_allies + extra enemies) uniforms."""
    n_extra = max(n_enemies - n_allies, 0)
    allies = u[: 2 * n_allies].reshape(n_allies, 2) * jnp.array([w / 2 - 1, h])
    mirrored = jnp.stack([w - allies[:, 0], allies[:, 1]], axis=-1)
    if n_extra:
        extra = jnp.array([w / 2, 0.0]) + u[2 * n_allies:].reshape(n_extra, 2) * jnp.array([w / 2, h])
        enemies = jnp.concatenate([mirrored, extra])
    else:
        enemies = mirrored[:n_enemies]
    return jnp.concatenate([allies, enemies])


def _surrounded(u, n_allies, n_enemies, w, h, jitter):
    """smacv2 SurroundedPositionDistribution: allies at the centre, enemies in 1-4 groups on
    distinct diagonals, each at a uniform fraction of the way from its corner to centre +- offset.
    ``u``: 9 + n_enemies + 2 * (n_allies + n_enemies) uniforms."""
    n = n_allies + n_enemies
    o = SURROUND_OFFSET
    diag_centre = jnp.array([[w / 2 - o, h / 2 - o], [w / 2 - o, h / 2 + o],
                             [w / 2 + o, h / 2 + o], [w / 2 + o, h / 2 - o]])
    corner = jnp.array([[0.0, 0.0], [0.0, h], [w, h], [w, 0.0]])
    n_groups = jnp.minimum(1 + jnp.floor(u[0] * 4), 4).astype(jnp.int32)   # rng.integers(1, 5)
    group_diag = jnp.argsort(u[1:5])                  # rng.choice(4, n_groups, replace=False)
    group_t = u[5:9]                                  # rng.uniform(size=n_groups)
    # rng.multinomial(n_enemies, ones(n_groups) / n_groups), filled group by group
    group = jnp.minimum(jnp.floor(u[9:9 + n_enemies] * n_groups).astype(jnp.int32), n_groups - 1)
    group = jnp.sort(group)
    d, t = group_diag[group], group_t[group][:, None]
    enemies = diag_centre[d] * t + corner[d] * (1 - t)
    allies = jnp.broadcast_to(jnp.array([w / 2, h / 2]), (n_allies, 2))
    pos = jnp.concatenate([allies, enemies])
    # SC2 spreads units spawned on one point; SMAX cannot separate coincident units
    noise = u[9 + n_enemies:].reshape(n, 2)
    return pos + jitter * (2 * noise - 1)


def clip_to_map(pos, w, h, margin=SPAWN_MARGIN):
    return jnp.clip(pos, jnp.array([margin, margin]), jnp.array([w - margin, h - margin]))


def smacv2_start_positions(key, n_allies: int, n_enemies: int, map_width: float = 32.0,
                           map_height: float = 32.0, p: float = 0.5, jitter: float = SPAWN_JITTER,
                           return_mode: bool = False):
    """SMACv2's ``surrounded_and_reflect`` start positions, ``[n_allies + n_enemies, 2]``.

    As in smacv2, a uniform draw above ``p`` picks the surrounded layout, otherwise reflect.
    With ``return_mode`` also returns a bool: True for the surrounded layout.
    """
    n = n_allies + n_enemies
    n_ref = 2 * (n_allies + max(n_enemies - n_allies, 0))
    n_sur = 9 + n_enemies + 2 * n
    u = jax.random.uniform(key, (1 + n_ref + n_sur,))  # one PRNG call: quick to compile
    surrounded = u[0] > p
    pos = jnp.where(surrounded,
                    _surrounded(u[1 + n_ref:], n_allies, n_enemies, map_width, map_height, jitter),
                    _reflect(u[1:1 + n_ref], n_allies, n_enemies, map_width, map_height))
    pos = clip_to_map(pos, map_width, map_height)
    return (pos, surrounded) if return_mode else pos


class SMACv2PositionDistribution:
    """Drop-in for SMAX's ``position_generator`` (``generate(key)``)."""

    def __init__(self, n_allies, n_enemies, map_width, map_height, p=0.5, jitter=SPAWN_JITTER):
        self.n_allies, self.n_enemies = n_allies, n_enemies
        self.map_width, self.map_height, self.p, self.jitter = map_width, map_height, p, jitter

    def generate(self, key):
        return smacv2_start_positions(key, self.n_allies, self.n_enemies, self.map_width,
                                      self.map_height, self.p, self.jitter)


class SMACv2UnitTypeDistribution:
    """Drop-in for SMAX's ``unit_type_generator`` (``generate(key)``)."""

    def __init__(self, n_allies, n_enemies, probs):
        self.n_allies, self.n_enemies = n_allies, n_enemies
        self.probs = tuple(float(x) for x in probs)

    def generate(self, key):
        return smacv2_unit_types(key, self.n_allies, self.n_enemies, self.probs)


# --------------------------------------------------------------------------------------
# Environments
# --------------------------------------------------------------------------------------
class ScenarioSMAX(SMAX):
    """SMAX with optional SMACv2 unit-type / start-position generators.

    ``unit_type_probs``: probability per unit-type index (length = number of unit types);
    switches SMACv2-style unit-type generation on.  ``smacv2_positions``: switches SMACv2's
    surrounded-and-reflect start positions on (and clips spawns inside the map).
    Without either it behaves exactly as ``SMAX``.
    """

    def __init__(self, unit_type_probs=None, smacv2_positions=False, **kwargs):
        super().__init__(**kwargs)
        self.clip_spawns = bool(smacv2_positions)
        if unit_type_probs is not None:
            if len(unit_type_probs) != len(self.unit_type_names):
                raise ValueError("unit_type_probs needs one entry per unit type")
            self.smacv2_unit_type_generation = True
            self.unit_type_generator = SMACv2UnitTypeDistribution(self.num_allies, self.num_enemies,
                                                                  unit_type_probs)
        if smacv2_positions:
            self.smacv2_position_generation = True
            self.position_generator = SMACv2PositionDistribution(self.num_allies, self.num_enemies,
                                                                 self.map_width, self.map_height)

    @partial(jax.jit, static_argnums=(0,))
    def reset(self, key):
        obs, state = super().reset(key)
        if self.clip_spawns:
            # SMAX pushes overlapping units apart after placing them; keep them inside the map
            state = state.replace(unit_positions=clip_to_map(state.unit_positions, self.map_width,
                                                             self.map_height))
            obs = self.get_obs(state)
            obs["world_state"] = jax.lax.stop_gradient(self.get_world_state(state))
        return obs, state


class ScenarioHeuristicEnemySMAX(HeuristicEnemySMAX):
    """``HeuristicEnemySMAX`` around a ``ScenarioSMAX`` (jaxmarl's EnemySMAX hard-codes SMAX)."""

    def __init__(self, enemy_shoots=True, attack_mode="closest", unit_type_probs=None,
                 smacv2_positions=False, approximation_note="", **env_kwargs):
        super().__init__(enemy_shoots=enemy_shoots, attack_mode=attack_mode, **env_kwargs)
        self._env = ScenarioSMAX(unit_type_probs=unit_type_probs, smacv2_positions=smacv2_positions,
                                 **env_kwargs)
        self.observation_spaces = {i: self._env.observation_spaces[i] for i in self.agents}
        self.action_spaces = {i: self._env.action_spaces[i] for i in self.agents}
        self.heuristic_policy = create_heuristic_policy(self._env, 1, shoot=self.enemy_shoots,
                                                        attack_mode=self.attack_mode)
        self.approximation_note = approximation_note


APPROXIMATION_NOTES = {
    "corridor": "open 32x32 SMAX map instead of SMAC's corridor terrain (no choke point); "
                "6 zealots vs 24 zerglings, limit 400",
    "2c_vs_64zg": "open 32x32 SMAX map (no cliffs); colossus-like 7th SMAX unit type: one 10-damage "
                  "hit per 1.07 s, no second beam, no +5 vs light, no splash, no cliff walking",
    "smacv2": "SMAX has no {missing}: SMACv2's weights renormalised over the remaining types; "
              "SMACv2 start positions with SMAX spawn jitter; no terrain",
}


def make_env(task, smacv2_colossus: bool = False, **env_overrides):
    """A configured ``ScenarioHeuristicEnemySMAX`` for a task of a suite of StarCraft battles
    (``Suite.scenario_kind``; a ``"map"`` task's unit types beyond SMAX's six, the colossus, are
    appended as ``EXTRA_UNIT_TYPES``).

    ``smacv2_colossus``: for protoss generated (SMACv2) tasks, draw the colossus-like seventh type with
    SMACv2's full 0.45/0.45/0.1 weights instead of renormalising it away (changes obs/state
    sizes; off by default).  ``env_overrides`` go to SMAX's constructor.
    """
    kw = task.backend_kwargs
    a, e = int(kw["n_allies"]), int(kw["n_enemies"])
    extra = ()
    probs = None
    positions = False
    note = ""
    kind = SUITES[task.suite].scenario_kind if task.suite in SUITES else ""
    if kind == "generated":
        race = kw["race"]
        if smacv2_colossus and race == "protoss":
            extra = ("colossus",)
        names = list(SMAX_UNIT_TYPES) + list(extra)
        table = smacv2_unit_probs(race, names)
        probs = [table.get(n, 0.0) for n in names]
        positions = True
        missing = [u for u in SMACV2_WEIGHTS[race] if u not in names]
        note = (APPROXIMATION_NOTES["smacv2"].format(missing=", ".join(missing)) if missing else
                "colossus-like 7th SMAX unit type; SMACv2 start positions with SMAX spawn jitter; no terrain")
        types = [0] * (a + e)  # placeholder: drawn at reset
    elif kind == "map":
        extra = tuple(u for u in dict.fromkeys((kw["ally_type"], kw["enemy_type"])) if u in EXTRA_UNIT_TYPES)
        names = list(SMAX_UNIT_TYPES) + list(extra)
        types = [names.index(kw["ally_type"])] * a + [names.index(kw["enemy_type"])] * e
        note = APPROXIMATION_NOTES.get(task.name, "")
    else:
        raise ValueError(f"{task.id} is not a StarCraft task")
    scenario = Scenario(jnp.array(types, dtype=jnp.uint8), a, e, False, False)
    env_kwargs = dict(scenario=scenario, max_steps=task.episode_limit, **unit_type_kwargs(extra))
    env_kwargs.update(env_overrides)
    return ScenarioHeuristicEnemySMAX(unit_type_probs=probs, smacv2_positions=positions,
                                      approximation_note=note, **env_kwargs)


# --------------------------------------------------------------------------------------
# Dimensions, read off the env (no compilation needed)
# --------------------------------------------------------------------------------------
_DIMS_CACHE: dict = {}


def _dims(task):
    kw = task.backend_kwargs
    key = (task.suite, task.name) + tuple(kw.get(k) for k in ("n_allies", "n_enemies", "race", "ally_type",
                                                               "enemy_type"))
    if key not in _DIMS_CACHE:
        env = make_env(task)
        agent = env.agents[0]
        _DIMS_CACHE[key] = (int(env.observation_space(agent).shape[0]), int(env.state_size),
                            int(env.action_space(agent).n))
    return _DIMS_CACHE[key]


def obs_dim(task) -> int:
    """Per-agent observation size of ``make_env(task)``."""
    return _dims(task)[0]


def state_dim(task) -> int:
    """World-state size of ``make_env(task)`` (``env.get_world_state``)."""
    return _dims(task)[1]


def action_dim(task) -> int:
    """Number of discrete actions per ally of ``make_env(task)``."""
    return _dims(task)[2]


def dims_table() -> dict:
    """{task id: (obs_dim, state_dim, action_dim)} for every task of StarCraft battles (SMACv1, SMACv2)."""
    from envs.registry import all_tasks

    return {t.id: _dims(t) for s in SUITES.values() if s.scenario_kind for t in all_tasks(s.name)}


if __name__ == "__main__":  # pragma: no cover - prints the table for the registry
    for tid, (o, s, a) in dims_table().items():
        print(f"{tid:28s} obs {o:5d}  state {s:5d}  actions {a:3d}")
