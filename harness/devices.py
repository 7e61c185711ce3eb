"""Which GPU a training run uses, so that concurrent runs spread over a machine's GPUs.

Snakemake gives jobs no slot number, so a run claims a GPU itself with a lock file:

    device = pick_device("auto")      # "cuda:2" on a machine with several free GPUs

- ``cpu`` and an explicit ``cuda:N`` are returned as they are.
- ``auto`` and ``cuda``: with no visible CUDA device, ``auto`` is ``cpu`` and ``cuda`` is returned
  unchanged (the training loop then fails, naming the fix).  With one visible device (a
  workstation with one GPU, or a SLURM job: the scheduler sets ``CUDA_VISIBLE_DEVICES`` to
  the GPU it granted) it is ``cuda:0``.  With several, the run takes the first free slot in
  the order GPU 0 slot 0, GPU 1 slot 0, ..., GPU 0 slot 1, ...: concurrent runs go to
  different GPUs first and only share a GPU when there are more runs than GPUs (several
  small runs may share one; how many run at once is Snakemake's ``--resources gpu=N``: the
  number of GPUs for one run per GPU, twice it for two).
- A slot is an exclusive ``flock`` on ``<lock dir>/gpu<i>.slot<k>.lock``, held until the
  process exits (or crashes: the kernel drops the lock), so nothing is left to clean up.
  The lock directory is ``$COMADICE_GPU_LOCK_DIR``, else ``<tmp>/comadice-gpu-locks-<user>``;
  it must be on the machine's local disk.  ``COMADICE_GPU_LOCKS=0`` turns the spreading off
  (every run uses ``cuda:0`` of its visible devices).
"""
from __future__ import annotations

import getpass
import os
import tempfile
from pathlib import Path

#: at most this many runs share one GPU before slots are reused without a lock
MAX_SLOTS_PER_GPU = 64

_held = []  # open lock files of this process: the locks last as long as the process


def lock_dir() -> Path:
    d = os.environ.get("COMADICE_GPU_LOCK_DIR")
    if d:
        return Path(d)
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (some containers)
        user = str(os.getuid())
    return Path(tempfile.gettempdir()) / f"comadice-gpu-locks-{user}"


def cuda_device_count() -> int:
    """Visible CUDA devices (0 without torch or without a CUDA build)."""
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _try_lock(path: Path) -> bool:
    import fcntl

    f = open(path, "a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return False
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    _held.append(f)
    return True


def claim_gpu(n_devices: int, directory: Path | None = None) -> int:
    """Index of the GPU whose free slot this process claimed (see the module's docstring)."""
    if n_devices <= 1:
        return 0
    directory = Path(directory) if directory is not None else lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    for slot in range(MAX_SLOTS_PER_GPU):
        for gpu in range(n_devices):
            if _try_lock(directory / f"gpu{gpu}.slot{slot}.lock"):
                return gpu
    return os.getpid() % n_devices  # more runs than slots: spread by process id


def pick_device(requested: str, n_devices: int | None = None, directory: Path | None = None) -> str:
    """The torch device string a run should use for the config's ``train.device``.

    ``requested``: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.  ``n_devices`` (visible CUDA
    devices) and ``directory`` (lock directory) are for tests; by default they are read from
    torch and the environment.  Call it once per process, before any CUDA work.
    """
    requested = str(requested or "auto").strip().lower()
    if requested == "cpu" or requested.startswith("cuda:"):
        return requested
    if requested not in ("auto", "cuda"):
        raise ValueError(f"device {requested!r}: expected auto, cpu, cuda or cuda:N")
    n = cuda_device_count() if n_devices is None else n_devices
    if n == 0:
        return "cpu" if requested == "auto" else "cuda"
    if n == 1 or os.environ.get("COMADICE_GPU_LOCKS", "1") == "0":
        return "cuda:0"
    return f"cuda:{claim_gpu(n, directory)}"


def release_all() -> None:
    """Drop this process's slots (tests; a finished run's process exit does it too)."""
    while _held:
        _held.pop().close()
