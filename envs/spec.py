"""What the harness knows about one task: ``TaskSpec``, and the observation layouts a task can have.

Plain data, imported by the task registry (``envs/registry.py``) and by every backend module
(``envs/*_backend.py``); it imports neither, so the registry may import a backend (lazily, to
configure a task on it) without an import cycle.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TaskSpec:
    """Everything the harness needs to know about one task of the paper."""

    name: str                     # canonical id, e.g. "5m_vs_6m", "Hopper_3x1"
    display: str                  # as printed in the paper's tables
    suite: str                    # smacv1 | smacv2 | mamujoco
    backend: str                  # the simulator that runs it (envs/suites.py BACKENDS)
    n_agents: int
    obs_dim: int                  # per-agent observation (max over agents; smaller ones are zero padded)
    state_dim: int                # global state
    action_dim: int               # number of discrete actions, or continuous action size per agent
    action_type: str              # "discrete" | "continuous"
    qualities: tuple
    episode_limit: int            # SMAC's per-map limit, or MaMuJoCo's 1000-step time limit
    approximation: bool = False   # True where our backend only approximates the paper's task
    approximation_note: str = ""
    available: bool = True        # False: the task is registered but its backend is not built yet
    backend_kwargs: dict = field(default_factory=dict, hash=False, compare=False)
    obs_layout: str = "native"    # what an agent observes: "native" (the simulator's own, SMAC), or for
                                  # MaMuJoCo "authors" | "local" (see MAMUJOCO_OBS_LAYOUTS)
    enemy_roster: tuple = ()      # SMAC's enemies on the task's map: (count, hit points + shields of each, as
                                  # SMAC reads SC2's unit stats), the scale of MADT's return bands; () if none

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.name}"

    @property
    def discrete(self) -> bool:
        return self.action_type == "discrete"


#: MaMuJoCo observation layouts, the first the default (a task option: ``get_task(..., obs_layout=...)``,
#: in the workflow the config key ``simulators.mamujoco_obs``)
MAMUJOCO_OBS_LAYOUTS = {
    # vietbt/ComaDICE envs/mamujoco/multiagent_mujoco/mujoco_multi.py get_obs (lines 147-160), identical in
    # ZhengYinan-AIR/OMIGA envs/ma_mujoco/multiagent_mujoco/mujoco_multi.py: every agent sees
    # concat(full MuJoCo observation, one-hot agent id), minus that vector's own mean, divided by its own
    # (population) std -- the observation the paper's and OMIGA's MaMuJoCo data were made and evaluated with
    "authors": "full state + one-hot agent id, standardised per vector (mean and std over the vector's own "
               "entries), as the paper's and OMIGA's MaMuJoCo environment (mujoco_multi.py get_obs)",
    # Gymnasium-Robotics mamujoco_v1 agent_obsk=1: each agent's own joints and those one hop away, raw
    "local": "local agent_obsk=1 observation of Gymnasium-Robotics mamujoco_v1 (own and neighbouring joints), "
             "raw, zero padded to the widest agent",
}
DEFAULT_MAMUJOCO_OBS = next(iter(MAMUJOCO_OBS_LAYOUTS))
#: each MaMuJoCo layout's observation width for a task (authors: the state and a one-hot agent id;
#: local: the widest agent_obsk=1 observation, which the registry records)
OBS_LAYOUT_WIDTHS = {
    "authors": lambda task: task.state_dim + task.n_agents,
    "local": lambda task: task.backend_kwargs["local_obs_dim"],
}
