"""The SMAC-like suites' datasets: smoke-grade from SMAX's heuristic (``behaviour.smac_like.heuristic``),
paper-grade from a JAX MAPPO run (``behaviour.smac_like.mappo``), this module.

SMACv1 (poor / medium / good): MADT's datasets, which the paper trained on through OMIGA, are
MAPPO episodes divided by *return band* on SMAC's 0-20 scale: poor < 10, medium 10-15, good
>= 15 (``SMAC_RETURN_BANDS``; the published 5m_vs_6m levels are 8.5, 11.0 and 20.0,
``analysis/data/published_datasets.csv``).  SMAX's reward is not SMAC's, so the bands are mapped:

- SMAC (``smac/env/starcraft2/starcraft2.py``, defaults ``reward_death_value=10``,
  ``reward_win=200``, ``reward_scale_rate=20``) pays the enemies' health and shield lost, 10 per
  kill and 200 for a win, scaled so that the maximum, H + 10 n + 200 for n enemies of total
  health H, is 20.  A lost battle therefore returns at most ``R_lost = 20 (H + 10 n) / (H + 10 n
  + 200)`` (5m_vs_6m: 12.45) and a won one 20.
- SMAX (JaxMARL) pays the enemies' health lost normalised to at most 1, plus 1 for a win: a
  lost battle returns its damage fraction d < 1, a won one 2.0.
- Taking kills in proportion to damage, a lost SMAC return R is the damage fraction
  ``R / R_lost``; a SMAC threshold above ``R_lost`` can only be passed by a win, which on SMAX is
  a return of 2 (``SMAX_WIN_RETURN``: 1.5 separates wins from draws, which return 1).
  ``smax_band`` maps each band so; for 5m_vs_6m: poor = lost with d < 0.80, medium = lost (or
  drawn) with d >= 0.80, good = won.

Episodes are played by the run's checkpoints (stochastic policies, as MADT's MAPPO data) and
kept when their return is in the quality's band; the checkpoints are tried in order of the
share of their evaluation episodes in the band, so that few episodes are played to no use.

SMACv2 (medium): trajectories drawn uniformly from the episodes the run recorded across its
whole length (paper Sec. 6.1: 1000 trajectories of a 10M-step MAPPO run).
"""
from __future__ import annotations

import math

import numpy as np

from behaviour.qualities import dataset_meta
from envs.dataset import OfflineDataset, from_episodes
from envs.registry import TaskSpec, check_quality, enemy_rosters
from envs.suites import get_suite

#: MADT's quality bands of SMACv1 episodes, [low, high) on SMAC's 0-20 return scale
SMAC_RETURN_BANDS = {"poor": (0.0, 10.0), "medium": (10.0, 15.0), "good": (15.0, math.inf)}
#: SMAC's reward settings (smac starcraft2.py defaults)
SMAC_DEATH_VALUE, SMAC_WIN_VALUE, SMAC_SCALE = 10.0, 200.0, 20.0
#: the SMAX return that only a won battle passes: a win pays damage 1 + won_battle_bonus 1 = 2.0,
#: a lost battle less than 1, a draw (both sides dead at once) exactly 1 -- on SMAC a draw returns
#: the lost-battle maximum, so it belongs below this threshold too
SMAX_WIN_RETURN = 1.5


def smac_lost_return_max(task_name: str) -> float:
    """The most a lost battle of a SMACv1 map returns on SMAC's scale: 20 (H + 10 n) / (H + 10 n + 200)."""
    rosters = enemy_rosters()  # the registry's SMACv1 maps: (count, health + shield of each enemy)
    if task_name not in rosters:
        raise ValueError(f"no SMAC enemy roster for {task_name!r} (known: {', '.join(rosters)})")
    n, health = rosters[task_name]
    lost = health * n + SMAC_DEATH_VALUE * n
    return SMAC_SCALE * lost / (lost + SMAC_WIN_VALUE)


def smax_threshold(task_name: str, smac_return: float) -> float:
    """A SMAC return threshold on SMAX's scale (module docstring)."""
    if math.isinf(smac_return):
        return math.inf
    lost_max = smac_lost_return_max(task_name)
    return smac_return / lost_max if smac_return < lost_max else SMAX_WIN_RETURN


def smax_band(task_name: str, quality: str) -> tuple:
    """[low, high) of SMAX episode returns for a SMACv1 quality."""
    lo, hi = SMAC_RETURN_BANDS[quality]
    return smax_threshold(task_name, lo), smax_threshold(task_name, hi)


def episode_return(episode) -> float:
    return float(np.sum(episode["reward"]))


def smacv1_episodes(task: TaskSpec, quality: str, run: dict, n_episodes: int, seed: int = 0, batch: int = 128,
                    max_batches: int = 40) -> tuple:
    """``n_episodes`` episodes of the run's checkpoints whose return is in the quality's band, and
    what was played to find them (provenance)."""
    from behaviour.smac_like.mappo import play_checkpoint

    lo, hi = smax_band(task.name, quality)
    in_band = lambda e: lo <= episode_return(e) < hi
    share = [float(np.mean((np.asarray(c["returns"]) >= lo) & (np.asarray(c["returns"]) < hi)))
             for c in run["checkpoints"]]
    order = sorted(range(len(share)), key=lambda i: (-share[i], -i))
    kept, used = [], []
    for i in order:
        if share[i] == 0 and kept:
            break
        need = n_episodes - len(kept)
        # enough batches for the expected yield, bounded
        est = max(share[i], 0.02)
        got, played = play_checkpoint(task, run, run["checkpoints"][i], need, seed + 1009 * i, batch=batch,
                                      keep=in_band, max_batches=min(max_batches, math.ceil(need / (est * batch)) + 2))
        kept += got
        used.append({"checkpoint_iteration": run["checkpoints"][i]["iteration"],
                     "checkpoint_env_steps": run["checkpoints"][i]["env_steps"],
                     "checkpoint_win_rate": run["checkpoints"][i]["win_rate"], "eval_share_in_band": share[i],
                     "played": played, "kept": len(got)})
        if len(kept) >= n_episodes:
            break
    if len(kept) < n_episodes:
        raise ValueError(f"{task.id} {quality}: the MAPPO run's checkpoints gave only {len(kept)} of {n_episodes} "
                         f"episodes with a SMAX return in [{lo:.3f}, {hi:.3f}) (SMAC's {SMAC_RETURN_BANDS[quality]}); "
                         "train the behaviour run longer (datasets.smac_like.mappo.env_steps)")
    band = {"smac_return_band": list(SMAC_RETURN_BANDS[quality]), "smax_return_band": [lo, hi],
            "smac_lost_return_max": smac_lost_return_max(task.name), "checkpoints": used}
    return kept[:n_episodes], band


def smax_from_run(task: TaskSpec, quality: str, run: dict, n_episodes: int, seed: int = 0) -> OfflineDataset:
    """The dataset of one SMAX (task, quality) from a JAX MAPPO run (module docstring)."""
    check_quality(task, quality)
    if get_suite(task.suite).replay_sample:
        pool = run["episodes"]
        if not pool:
            raise ValueError(f"the MAPPO run of {task.id} recorded no episodes")
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(len(pool), size=min(n_episodes, len(pool)), replace=False))
        episodes = [pool[i] for i in idx]
        prov = {"behaviour": "mappo-jax-learning-run", "run_env_steps": run["env_steps"], "pool": len(pool)}
    else:
        episodes, band = smacv1_episodes(task, quality, run, n_episodes, seed)
        prov = {"behaviour": "mappo-jax-checkpoints-by-return-band", "run_env_steps": run["env_steps"], **band}
    returns = np.array([episode_return(e) for e in episodes])
    prov.update({"episodes": len(episodes), "win_rate": float(np.mean([e["win"] for e in episodes])),
                 "return_mean": float(returns.mean()), "seed": seed})
    return from_episodes(episodes, dataset_meta(task, quality, prov, grade="paper"))
