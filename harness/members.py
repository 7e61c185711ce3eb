"""Which runs can be members of one training program (harness/engine.py): the same learner and
config but for float hyperparameters, whose values become arrays of the program.  Plain config
logic (no JAX computation, no dataset), so that the workflow's job graph can group runs on a host
without the simulators.
"""
from __future__ import annotations

import dataclasses

from algorithms import make_config


def varying_fields(cfgs: list) -> list:
    """The float hyperparameters whose values differ between the members' configs."""
    first = dataclasses.asdict(cfgs[0])
    out = []
    for name, value in first.items():
        values = [getattr(c, name) for c in cfgs]
        if any(v != value for v in values):
            out.append(name)
    return out


def group_members(algorithm: str, hyperparameters: list) -> list:
    """Indices of the members that can share one program: same config but for float fields."""
    cfgs = [make_config(algorithm, hp) for hp in hyperparameters]
    groups = []
    for i, cfg in enumerate(cfgs):
        for g in groups:
            ref = cfgs[g[0]]
            if all(isinstance(getattr(cfg, f), float) and isinstance(getattr(ref, f), float)
                   for f in varying_fields([ref, cfg])):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups
