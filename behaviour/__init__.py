"""Behaviour learners and the offline datasets made from their runs, by the suites' dataset kind
(``envs.suites.Suite.dataset_kind``).

- ``smac_like/`` (SMACv1, SMACv2, on SMAX): ``heuristic`` (the smoke generator: SMAX's heuristic
  with random actions); ``mappo`` (the paper generator's learner: JAX MAPPO compiled end to end,
  its run between compiled chunks) with ``mappo_config`` (its settings, free of JAX),
  ``mappo_networks`` (flax modules) and ``mappo_learner`` (the compiled update and episode
  rollouts); ``run_file`` (its run on disk, ``.npz`` without pickle); ``datasets`` (SMACv1 return
  bands of its checkpoints' episodes, SMACv2 its replay sample).
- ``d4rl_like/`` (MaMuJoCo): ``ars`` (the smoke generator's learner: Augmented Random Search);
  ``mappo`` (the paper generator's learner: PyTorch MAPPO with HARL's tuned Hopper settings) with
  ``mappo_networks`` (its actor and critic); ``running_stats`` (the normalisers both learners
  use); ``run_file`` (either run on disk, ``run.pt`` read without running code); ``datasets``
  (D4RL-style expert / medium / medium-replay / medium-expert levels from either run).
- shared: ``episodes`` (recording whole episodes from a batched environment), ``qualities``
  (D4RL-style levels from checkpoints, the metadata every generated dataset carries).

Layering: imports ``envs`` and nothing of ``algorithms``, ``harness``, ``analysis``, ``pipeline``
or ``workflow``.
"""
