"""Which code a training run depends on, as checksums: reruns follow code changes, and tables
say when they mix runs of different code.

``code_version("ComaDICE")`` hashes the sources a run of that learner executes:

- ``learner``: the learner's module (``algorithms/comadice.py``) and the project modules it
  imports that no other learner needs;
- ``shared``: the training loop and what it imports, followed through the project's own
  imports (``algorithms/base.py``, ``networks.py``, ``fdiv.py``, ``data.py``, ``train.py``, the
  task registry, the dataset format, the simulator backends in ``envs/``), except the other
  learners' modules (the registry, ``algorithms/__init__.py``, imports them all; a change to BC
  must not rerun ComaDICE).  Package ``__init__`` files are not followed: the registry's
  lookup is not part of any run's checksum.

The workflow passes ``sources_sha256`` to the training rule as a param, so Snakemake reruns
exactly the runs whose code changed; the training loop records the whole dict (with the git
commit and whether those files differ from it) in ``metrics.json``.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import subprocess
from pathlib import Path

from envs.suites import BACKENDS

ROOT = Path(__file__).resolve().parents[1]
#: top-level packages of the project whose imports are followed
PACKAGES = ("envs", "algorithms", "behaviour", "harness", "pipeline", "analysis")
#: where every run starts, whatever its learner; the simulator backends are reached through the
#: table ``envs/suites.py`` ``BACKENDS`` (envs/simulators.py imports them by name), not an import
SHARED_ROOTS = ("algorithms/base.py", "algorithms/networks.py", "algorithms/fdiv.py", "harness/data.py",
                "harness/engine.py", "harness/train.py", "envs/simulators.py", "envs/registry.py",
                "envs/dataset.py") + tuple(
    b.module.replace(".", "/") + ".py" for b in BACKENDS.values())


def _module_file(name: str):
    """``algorithms.networks`` -> ``algorithms/networks.py`` (or a package's ``__init__.py``)."""
    parts = name.split(".")
    if parts[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.relative_to(ROOT).as_posix()
    return None


def _imports(rel: str) -> set:
    """Project files that ``rel`` imports anywhere (top level or inside functions)."""
    tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"), filename=rel)
    out = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            path = _module_file(name)
            if path and not path.endswith("__init__.py"):
                out.add(path)
    return out


def _closure(roots, stop=frozenset()) -> set:
    seen, todo = set(), [r for r in roots]
    while todo:
        rel = todo.pop()
        if rel in seen or rel in stop:
            continue
        seen.add(rel)
        todo.extend(_imports(rel) - seen)
    return seen


@functools.cache
def _learner_files() -> dict:
    import sys

    from algorithms import REGISTRY

    return {name: Path(sys.modules[cls.__module__].__file__).resolve().relative_to(ROOT).as_posix()
            for name, cls in REGISTRY.items()}


def _digest(files) -> str:
    """sha256 over the files' paths and contents, in sorted path order."""
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(rel.encode() + b"\0")
        h.update(hashlib.sha256((ROOT / rel).read_bytes()).hexdigest().encode() + b"\n")
    return h.hexdigest()


def _git(*args):
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@functools.cache
def code_version(algorithm: str) -> dict:
    """The checksums of the code a run of ``algorithm`` executes (see the module doc):

    ``{"sources_sha256", "learner_sha256", "shared_sha256", "files", "git_commit", "git_dirty"}``
    -- ``git_commit`` None outside a git checkout, ``git_dirty`` whether any of ``files``
    differs from that commit."""
    from algorithms import algorithm_class

    name = algorithm_class(algorithm).name
    learners = _learner_files()
    own = learners[name]
    others = frozenset(f for n, f in learners.items() if f != own)
    shared = _closure(SHARED_ROOTS, stop=others | {own})
    learner = _closure([own], stop=others) - shared
    files = sorted(shared | learner)
    commit = _git("rev-parse", "HEAD")
    dirty = None
    if commit is not None:
        status = _git("status", "--porcelain", "--", *files)
        dirty = None if status is None else bool(status)
    return {"sources_sha256": _digest(files), "learner_sha256": _digest(learner), "shared_sha256": _digest(shared),
            "files": files, "git_commit": commit, "git_dirty": dirty}
