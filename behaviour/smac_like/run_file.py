"""The SMAX MAPPO run on disk (``results/<profile>/behaviour/{suite}/{task}/mappo_run.npz``): one
``.npz`` of arrays and a JSON header, written by :func:`save_run` and read back with
``allow_pickle=False`` by :func:`load_run`, which checks it as the dataset loader checks its files:
no file can execute code, or allocate what it merely declares, when a dataset rule reads it."""
from __future__ import annotations

import json
import math
import os
import re
import zipfile
import zlib
from dataclasses import asdict

import numpy as np

from behaviour.smac_like.mappo_config import SMAXMAPPOConfig, run_sizes
from envs.spec import TaskSpec

_EPISODE_ARRAYS = ("obs", "state", "avail", "actions", "reward")


def save_run(run: dict, path) -> None:
    """Write ``run`` as an ``.npz``: checkpoints' parameters and the recorded episodes as arrays,
    everything else in a JSON header (``header``)."""
    arrays, header = {}, {k: v for k, v in run.items() if k not in ("checkpoints", "episodes")}
    header["checkpoints"] = []
    for i, ck in enumerate(run["checkpoints"]):
        header["checkpoints"].append({k: v for k, v in ck.items() if k not in ("actor", "returns")}
                                     | {"n_leaves": len(ck["actor"])})
        arrays[f"ck{i}_returns"] = np.asarray(ck["returns"])
        for j, leaf in enumerate(ck["actor"]):
            arrays[f"ck{i}_leaf{j}"] = leaf
    eps = run["episodes"]
    header["episodes"] = [{"terminated": e["terminated"], "win": e["win"], "iteration": e.get("iteration", 0),
                           "length": int(len(e["reward"]))} for e in eps]
    for k in _EPISODE_ARRAYS:
        if eps:  # steps of all episodes end to end (obs-like arrays carry one more row per episode)
            arrays[f"ep_{k}"] = np.concatenate([e[k] for e in eps], axis=0)
    arrays["header"] = np.frombuffer(json.dumps(header, allow_nan=True).encode(), np.uint8)
    from envs.files import atomic_path
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


class RunFileError(ValueError):
    """A SMAX MAPPO run file that is not one, or not the run its rule expects; the message names
    the file and the problem."""


#: what a run file holds: the JSON header, each checkpoint's returns and actor leaves, the episodes
_RUN_MEMBER = re.compile(r"header|ck\d+_returns|ck\d+_leaf\d+|ep_(?:obs|state|avail|actions|reward)")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def _declared_arrays(path) -> dict:
    """{name: (shape, dtype)} of the ``.npz``'s arrays as their headers declare them, read without
    reading (or allocating) their data; refuses a file that is not a readable zip of ``.npy``
    arrays, an array of Python objects (a pickle), or a member this format never writes."""
    from envs.importers.common import describe_start as _describe_start

    path = str(path)
    if os.path.isdir(path):
        raise RunFileError(f"{path}: a directory, not a SMAX MAPPO run file")
    if not os.path.exists(path):
        raise RunFileError(f"{path}: no such SMAX MAPPO run file")
    if os.path.getsize(path) == 0:
        raise RunFileError(f"{path}: empty file (0 bytes), not a SMAX MAPPO run file; delete it and rerun")
    with open(path, "rb") as f:
        if f.read(4) not in _ZIP_MAGIC:
            raise RunFileError(f"{path}: not a SMAX MAPPO run file (an .npz is a zip archive; this is "
                               f"{_describe_start(path)})")
    declared = {}
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else None
                if name is None or not _RUN_MEMBER.fullmatch(name):
                    raise RunFileError(f"{path}: holds {info.filename!r}, which a SMAX MAPPO run file never holds")
                with z.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = reader(f)
                if dtype.hasobject:
                    raise RunFileError(f"{path}: not a SMAX MAPPO run file: array {name!r} holds Python objects "
                                       "(a pickle), which a run file never holds; it was not loaded")
                declared[name] = (tuple(shape), dtype)
    except RunFileError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as exc:
        raise RunFileError(f"{path}: not a readable SMAX MAPPO run file, truncated or damaged "
                           f"({type(exc).__name__}: {str(exc)[:200]}); delete it and rerun the behaviour run") from None
    if "header" not in declared:
        raise RunFileError(f"{path}: no 'header' array, not a SMAX MAPPO run file")
    return declared


def _check_declared_sizes(path, declared: dict) -> None:
    """The arrays' declared sizes against the memory available now: a crafted header (10^12 values
    of a zip of zeros) is refused naming the file, not allocated."""
    from envs.host_memory import available_memory_bytes

    nbytes = sum(math.prod(shape) * dtype.itemsize for shape, dtype in declared.values())
    avail = available_memory_bytes()
    if nbytes > avail:
        raise RunFileError(f"{path}: declares {nbytes / 2**30:.1f} GiB of arrays, more than the memory available "
                           f"now ({avail / 2**30:.1f} GiB); a damaged or crafted file, or free memory and rerun")
    shape, dtype = declared["header"]
    if len(shape) != 1 or dtype != np.uint8:
        raise RunFileError(f"{path}: 'header' is {dtype}{list(shape)}, not the bytes of a JSON header")


def _check_episode_rows(path, declared: dict, meta: list) -> None:
    """The header's episode lengths against the episode arrays' rows (slices past an array's end
    would give shorter episodes silently)."""
    if not meta:
        return
    try:
        lengths = [int(m["length"]) for m in meta]
    except (TypeError, KeyError, ValueError):
        raise RunFileError(f"{path}: the header's episodes lack integer lengths") from None
    steps, rows = sum(lengths), sum(lengths) + len(lengths)
    for k in _EPISODE_ARRAYS:
        want = steps if k in ("actions", "reward") else rows
        have = declared.get(f"ep_{k}", ((0,), None))[0]
        if not have or have[0] != want:
            raise RunFileError(f"{path}: 'ep_{k}' holds {have[0] if have else 0} rows, the header's "
                               f"{len(lengths)} episodes need {want}")


def check_run_matches(path, header: dict, task: TaskSpec = None, expect: dict = None) -> None:
    """The run's recorded task, backend and settings against what the rule expects: ``task`` (the
    task as the rule configures it) and ``expect`` (``config``: the ``SMAXMAPPOConfig`` fields set;
    ``env_steps``: the steps asked of the run; ``seed``; ``record_episodes``).  A run of another task
    placed at this path would otherwise become a dataset labelled with the path's task."""
    if header.get("kind") != "smax_mappo_jax":
        raise RunFileError(f"{path}: kind {header.get('kind')!r}, not a SMAX MAPPO run (smax_mappo_jax)")
    wrong = []
    if task is not None:
        if header.get("task_id") != task.id:
            wrong.append(f"task {header.get('task_id')!r} (the path's is {task.id!r})")
        if task.backend != "smax":  # this learner runs SMAX only
            wrong.append(f"backend smax (the task is configured on {task.backend!r})")
    expect = expect or {}
    if "config" in expect:
        cfg = SMAXMAPPOConfig(**expect["config"])
        recorded = header.get("config") if isinstance(header.get("config"), dict) else {}
        for k, v in asdict(cfg).items():
            if recorded.get(k) != v:
                wrong.append(f"{k} {recorded.get(k)!r} (the config's is {v!r})")
        if "env_steps" in expect:
            per_chunk, n_chunks = run_sizes(int(expect["env_steps"]), cfg)
            total = per_chunk * n_chunks * cfg.num_envs * cfg.rollout_steps
            if header.get("env_steps") != total:
                wrong.append(f"env_steps {header.get('env_steps')!r} (the config's {expect['env_steps']} make {total})")
            if "record_episodes" in expect:
                per_point = math.ceil(expect["record_episodes"] / n_chunks) if expect["record_episodes"] > 0 else 0
                if header.get("record_per_point") != per_point:
                    wrong.append(f"record_per_point {header.get('record_per_point')!r} (the config's "
                                 f"{expect['record_episodes']} episodes make {per_point})")
    if "seed" in expect and header.get("seed") != expect["seed"]:
        wrong.append(f"seed {header.get('seed')!r} (the config's is {expect['seed']!r})")
    if wrong:
        raise RunFileError(f"{path}: not the run this dataset is made from: " + "; ".join(wrong)
                           + "; delete it (or put the right run there) and rerun")


def load_run(path, task: TaskSpec = None, expect: dict = None) -> dict:
    """Read a run written by :func:`save_run` (``allow_pickle=False``: nothing in the file runs),
    checked as the dataset loader checks its files: kind, size, every array's declared size against
    the memory available, the header's depth, its episodes against the arrays, and (with ``task``
    and ``expect``, :func:`check_run_matches`) the recorded task, backend and settings.  Anything
    else raises :class:`RunFileError` naming the file."""
    declared = _declared_arrays(path)
    _check_declared_sizes(path, declared)
    try:
        with np.load(path, allow_pickle=False) as z:
            try:
                header = json.loads(bytes(z["header"]).decode())
            except RecursionError:
                raise RunFileError(f"{path}: the JSON header is nested too deeply to read "
                                   f"({declared['header'][0][0]} bytes): not a header this format writes") from None
            if not isinstance(header, dict):
                raise RunFileError(f"{path}: the header holds a JSON {type(header).__name__}, not an object")
            check_run_matches(path, header, task, expect)
            meta = header.pop("episodes")
            _check_episode_rows(path, declared, meta)
            checkpoints = []
            for i, ck in enumerate(header.pop("checkpoints")):
                n = ck.pop("n_leaves")
                checkpoints.append({**ck, "returns": z[f"ck{i}_returns"],
                                    "actor": [z[f"ck{i}_leaf{j}"] for j in range(n)]})
            arrays = {k: z[f"ep_{k}"] for k in _EPISODE_ARRAYS if f"ep_{k}" in z.files}
    except RunFileError:
        raise
    except MemoryError:
        raise RunFileError(f"{path}: out of memory while reading it; free memory and rerun") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, EOFError,
            zipfile.BadZipFile, zlib.error) as exc:
        raise RunFileError(f"{path}: not a SMAX MAPPO run file ({type(exc).__name__}: {str(exc)[:200]})") from exc
    episodes, step, row = [], 0, 0
    for m in meta:
        L = m.pop("length")
        episodes.append({**m, "actions": arrays["actions"][step: step + L], "reward": arrays["reward"][step: step + L],
                         **{k: arrays[k][row: row + L + 1] for k in ("obs", "state", "avail")}})
        step, row = step + L, row + L + 1
    return {**header, "checkpoints": checkpoints, "episodes": episodes}
