"""BC: behavioural cloning of each agent's actions (the simplest baseline of Tables 1-3).

    max_pi_i  E_D[ log pi_i(a_i | o_i) ]      for every agent i (shared weights, agent ids)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax

from algorithms.base import Batch, Draws, Learner, TrainState


@dataclass
class BCConfig:
    # Sources: vietbt/ComaDICE (the paper's code runs its BC baseline: runner/__init__.py TRAINER_*["bc"]).
    lr: float = 1e-4        # main.py line 94 (--lr 1e-4) -> runner/bc/discrete.py line 10 -> agents/discrete/bc.py
                            # line 24; its continuous BC never steps an optimiser (agents/continuous/bc.py lines
                            # 28-46: the loss is computed, no backward / step), so no MaMuJoCo rate exists
    hidden: int = 256       # agents/discrete/utils.py line 38 (Actor h_dim=256); continuous: runner/bc/continuous.py
                            # line 13 (hidden_sizes 256)
    grad_clip: float = 1.0  # agents/discrete/bc.py line 17
    #: training length in the authors' runs (RunConfig.n_updates, not a learner setting)
    TRAINING: ClassVar[str] = ("epochs of |D|/128 updates: SMACv1 5m_vs_6m 10, corridor 20, 2c_vs_64zg 40, 6h_vs_8z "
                               "400, SMACv2 50, MaMuJoCo 25 (run.py lines 6-11, 25, 43)")


class BC(Learner):
    name = "BC"
    Config = BCConfig

    def init_params(self, key) -> dict:
        return self.init_actor(key, self.cfg.hidden)

    def groups(self) -> dict:
        return {"actor": (["actor"], self.cfg.lr)}

    def loss(self, params: dict, b: Batch):
        """-E_D[ log pi_i(a_i | o_i) ], averaged over the batch and the agents."""
        return -self.actor_log_prob(params, b.obs, b.actions, b.avail).mean()

    def update(self, state: TrainState, b: Batch, draws: Draws):
        loss, grads = jax.value_and_grad(self.loss)(state.params, b)
        state = self.apply_grads(state, grads, "actor", clip=self.cfg.grad_clip)
        return state, {"pi_loss": loss}
