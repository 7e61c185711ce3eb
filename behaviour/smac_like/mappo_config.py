"""Settings of the JAX MAPPO behaviour learner on SMAX (``behaviour.smac_like.mappo``) and the run's
sizes, free of JAX so that the config checks can validate them before any job
(``pipeline.config_checks``)."""
from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class SMAXMAPPOConfig:
    """Settings of the JAX MAPPO learner; defaults from JaxMARL's final SMAX MAPPO sweep
    (``baselines/MAPPO/config/smax_mappo_final_sweep.yaml``) unless said otherwise."""
    num_envs: int = 16           # episodes stepped together per rollout: JaxMARL's SMAX IPPO sweep with 16
                                 # envs (sweep_results/, "16_envs-agent_id"; its MAPPO sweep: 64). Measured
                                 # here: on 5m_vs_6m 16 envs win 3.0 % of training episodes at 0.79M steps,
                                 # 64 envs 0.8 % (same other settings)
    rollout_steps: int = 128     # NUM_STEPS: steps per env per update
    lr: float = 2e-3             # LR (Adam, eps 1e-5), for actor and critic
    anneal_lr: bool = True       # ANNEAL_LR: linearly to 0 over the run
    gamma: float = 0.99          # GAMMA
    gae_lambda: float = 0.95     # GAE_LAMBDA
    clip: float = 0.2            # CLIP_EPS (ratio and value clipping)
    epochs: int = 4              # UPDATE_EPOCHS
    minibatches: int = 4         # NUM_MINIBATCHES (split over actor sequences)
    entropy: float = 0.01        # ENT_COEF of JaxMARL's SMAX IPPO (ippo_rnn_smax_mava.yaml; its MAPPO sweep: 0)
    value_coef: float = 0.5      # VF_COEF
    grad_clip: float = 0.25      # MAX_GRAD_NORM (global norm, actor and critic separately)
    hidden: int = 64             # MAPPO's SMAC width (Yu et al. 2022, hidden_size 64; JaxMARL: 128, 2x slower here)
    agent_id: bool = True        # the agent's one-hot id appended to its observation (MAPPO on SMAC:
                                 # obs_agent_id; JaxMARL's SMAX sweep results "agent_id")
    critic: str = "state"        # "state": MAPPO's centralised V(s, id_i) on the world state (Yu et al. 2022);
                                 # "local": IPPO's recurrent V(tau_i) on the agent's own observations
                                 # (JaxMARL's ippo_rnn_smax_split_networks.py, its SMAX sweep_results/)
    state_norm: bool = False     # layer-normalise the "state" critic's input: MAPPO's use_feature_normalization
                                 # (HARL, configs/algos_cfgs/mappo.yaml:52, models/base/mlp.py:57-66)
    chunk_length: int = 16       # BPTT over chunks of this many steps, each from its stored hidden
                                 # state (MAPPO's data_chunk_length, Yu et al. 2022: 10 on SMAC;
                                 # 16 divides the 128-step rollout); = rollout_steps: whole rollouts
    eval_episodes: int = 32      # episodes per evaluation of a checkpoint (stochastic policy)
    n_points: int = 40           # chunks: curve points, checkpoints, recording points, resume saves

    def validate(self, env_steps: int) -> None:
        problems = [f"{f.name} must be a positive integer (got {getattr(self, f.name)!r})"
                    for f in fields(self) if f.type in ("int", int) and
                    (not isinstance(getattr(self, f.name), int) or getattr(self, f.name) < 1)]
        for name in ("lr", "clip", "grad_clip", "value_coef"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0 (got {getattr(self, name)!r})")
        for name in ("gamma", "gae_lambda"):
            if not 0 < getattr(self, name) <= 1:
                problems.append(f"{name} must be in (0, 1] (got {getattr(self, name)!r})")
        if self.critic not in ("state", "local"):
            problems.append(f"critic must be 'state' or 'local' (got {self.critic!r})")
        if not self.entropy >= 0:
            problems.append(f"entropy must be >= 0 (got {self.entropy!r})")
        ints = all(isinstance(getattr(self, k), int) and getattr(self, k) >= 1
                   for k in ("chunk_length", "rollout_steps", "num_envs", "minibatches"))
        if ints and self.rollout_steps % self.chunk_length:
            problems.append(f"chunk_length ({self.chunk_length}) must divide rollout_steps ({self.rollout_steps})")
        elif ints and (self.rollout_steps // self.chunk_length * self.num_envs) % self.minibatches:
            problems.append(f"minibatches ({self.minibatches}) must divide the sequences of an update "
                            f"(rollout_steps / chunk_length x num_envs = "
                            f"{self.rollout_steps // self.chunk_length * self.num_envs})")
        if ints and (self.rollout_steps * self.num_envs) % self.minibatches:
            problems.append(f"minibatches ({self.minibatches}) must divide the critic's states of an update "
                            f"(rollout_steps x num_envs = {self.rollout_steps * self.num_envs})")
        if env_steps < self.num_envs * self.rollout_steps:
            problems.append(f"env_steps ({env_steps}) is less than one update ({self.num_envs} x {self.rollout_steps})")
        if problems:
            raise ValueError("SMAX MAPPO settings: " + "; ".join(problems))


def run_sizes(env_steps: int, cfg: SMAXMAPPOConfig):
    """(updates per chunk, chunks): ``n_points`` chunks of equal length covering ``env_steps``
    (rounded down to whole updates, at least one update per chunk)."""
    updates = max(1, env_steps // (cfg.num_envs * cfg.rollout_steps))
    points = min(cfg.n_points, updates)
    return updates // points, points
