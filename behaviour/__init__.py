"""Behaviour learners and the offline datasets made from their runs.

- ``mappo``: the MAPPO learner (paper-grade data, SMAX and MaMuJoCo); ``mappo_datasets``: the
  SMACv1 / SMACv2 / MaMuJoCo datasets from its runs.
- ``ars``: Augmented Random Search and its MaMuJoCo datasets (smoke grade).
- ``smax_heuristic``: SMAX's heuristic with random actions (smoke-grade SMAC data).
- ``qualities``: quality levels from checkpoints (SMACv1 fractions, D4RL-style levels) and
  the metadata every generated dataset carries.
- ``episodes``: recording whole episodes from a batched environment; ``running_stats``: the
  running mean / variance both learners normalise with.

Layering: imports ``tasks`` and ``algorithms.networks``, never ``harness``, ``analysis`` or
``workflow``.
"""
