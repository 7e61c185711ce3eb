"""The nine offline learners, by name: the registry (as EPyMARL's ``src/learners/__init__.py``).

    from algorithms import make
    learner = make("ComaDICE", spec, {"alpha": 10.0})
    state = learner.init(jax.random.PRNGKey(seed))

``algorithms/base.py`` holds what every learner shares and knows none of them; each learner
file imports only ``base``, ``networks`` and ``fdiv``.  Adding a learner is one file plus one
line in ``REGISTRY`` below.  Names are looked up case-insensitively.
"""
from __future__ import annotations

from algorithms.alberdice import AlberDICE
from algorithms.base import Learner, LearnerSpec, config_from
from algorithms.bc import BC
from algorithms.bcq import BCQ
from algorithms.comadice import ComaDICE
from algorithms.cql import CQL
from algorithms.icq import ICQ
from algorithms.omar import OMAR
from algorithms.omiga import OMIGA
from algorithms.optdice import OptDICE

#: every learner, in the paper's column order (Tables 1-3)
REGISTRY: dict = {cls.name: cls for cls in (BC, BCQ, CQL, ICQ, OMAR, OMIGA, OptDICE, AlberDICE, ComaDICE)}


def available_algorithms() -> list:
    return list(REGISTRY)


def algorithm_class(name: str):
    for key, cls in REGISTRY.items():
        if key.lower() == str(name).lower():
            return cls
    raise KeyError(f"unknown algorithm {name!r}; valid algorithms: {', '.join(REGISTRY)}")


def make_config(name: str, hyperparameters: dict | None = None):
    """The learner's Config, checked (``algorithms/base.py`` ``config_from``)."""
    return config_from(algorithm_class(name), hyperparameters)


def make(name: str, spec: LearnerSpec, hyperparameters: dict | None = None) -> Learner:
    """The learner ``name`` for ``spec``, its hyperparameters checked (its state: ``learner.init``)."""
    return algorithm_class(name)(spec, make_config(name, hyperparameters))
