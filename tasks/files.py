"""Atomic file writes: a reader (or a rerun after a kill) sees the old file or the new one,
never half of one.

    with atomic_path("results/scores.csv") as tmp:
        df.to_csv(tmp, index=False)
    atomic_write_text(path, text)

The new content goes to a temporary file in the same directory (same file system, so the
final ``os.replace`` is atomic), is flushed to disk, given the permissions an ordinary
``open(path, "w")`` would give (``tempfile.mkstemp`` creates files readable by their owner
only, 0600), then renamed over ``path``.  On any error the temporary file is removed.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _ordinary_mode() -> int:
    """0666 minus the process's umask (0644 under the usual umask 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path, suffix: str = None):
    """Yield a temporary path beside ``path`` (ending like it, so writers that infer a format
    from the suffix still work); on success it replaces ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or (path.suffix or ".tmp"))
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # the data on disk before the rename makes it visible
            os.fsync(f.fileno())
        os.chmod(tmp, _ordinary_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)


def atomic_write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def numpy_safe_globals() -> list:
    """What a pickle of numpy arrays and scalars names (numpy 1.x and 2.x module paths): the
    allowlist for ``torch.load(weights_only=True)``, whose restricted unpickler then accepts
    tensors, containers, numbers and numpy arrays and refuses anything that could run code."""
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    mod = core.multiarray
    allow = [np.ndarray, np.dtype, mod._reconstruct, mod.scalar,
             (mod._reconstruct, "numpy.core.multiarray._reconstruct"), (mod.scalar, "numpy.core.multiarray.scalar"),
             (mod._reconstruct, "numpy._core.multiarray._reconstruct"), (mod.scalar, "numpy._core.multiarray.scalar")]
    allow += sorted({type(np.dtype(c)) for c in "?bhilqBHILQefdg"}, key=str)
    allow.append(bytes)  # pickle protocol 2 writes an empty array's (empty) data as a call of bytes()
    return allow
