"""Atomic file writes: a reader (or a rerun after a kill) sees the old file or the new one,
never half of one.

    with atomic_path("results/scores.csv") as tmp:
        df.to_csv(tmp, index=False)
    atomic_write_text(path, text)
    atomic_copy(source, path)

The new content goes to a temporary file in the same directory (same file system, so the
final ``os.replace`` is atomic), is flushed to disk, given the permissions an ordinary
``open(path, "w")`` would give (``tempfile.mkstemp`` creates files readable by their owner
only, 0600), then renamed over ``path``.  On any error the temporary file is removed.

A full disk (ENOSPC, a quota: EDQUOT) or a file-size limit (EFBIG, ``ulimit -f``) while writing
raises :class:`DiskFullError`, which says so and names the file and its directory, instead of
whatever the writer makes of it (torch's is ``unexpected pos ...``); the truncated temporary file
is removed, so nothing half-written is ever counted.  A file-size limit normally kills the
process with SIGXFSZ before Python sees the error: importing this module ignores that signal
(in the main thread), so the write fails with EFBIG and is reported like a full disk.

:func:`save_tensors` / :func:`load_tensors` store containers of tensors, numpy arrays and numbers
(behaviour runs, resume states) in torch's format and read them back with its restricted
unpickler and a numpy allowlist: a crafted file cannot run code when it is loaded.
"""
from __future__ import annotations

import contextlib
import errno
import os
import signal
import tempfile
import threading
from pathlib import Path

#: errno values that mean "no room for this file": a full disk, a quota, a file-size limit
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _ignore_file_size_signal() -> None:
    """SIGXFSZ (a write past ``ulimit -f``) kills the process by default with no message; ignored,
    the write fails with EFBIG and the error names the file."""
    if hasattr(signal, "SIGXFSZ") and threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


_ignore_file_size_signal()


class DiskFullError(OSError):
    """Writing a result failed for want of space (or a file-size limit); the message names the file."""


def _disk_full_errno(exc: BaseException):
    """The disk-full errno behind ``exc``, looking through causes and the texts of libraries that
    report it only in words (h5py: "errno = 28"), or None."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return exc.errno
        text = str(exc)
        for code in DISK_FULL_ERRNOS:
            if f"errno = {code}," in text or os.strerror(code) in text:
                return code
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _free_bytes(directory) -> int:
    try:
        st = os.statvfs(directory)
    except (OSError, AttributeError):
        return -1
    return st.f_bavail * st.f_frsize


def disk_full_error(path, exc: BaseException):
    """A :class:`DiskFullError` naming ``path`` if ``exc`` is a failed write for want of space
    (by its errno, or a writer's error while the file system has no space left), else None."""
    path = Path(path)
    code = _disk_full_errno(exc)
    if code is None and isinstance(exc, (OSError, RuntimeError)) and 0 <= _free_bytes(path.parent) < (1 << 20):
        code = errno.ENOSPC
    if code is None:
        return None
    why = ("the file-size limit (ulimit -f) was reached" if code == errno.EFBIG
           else "the disk quota is exhausted" if code == errno.EDQUOT else "the disk is full")
    free = _free_bytes(path.parent)
    where = f" ({free / 2**20:.1f} MiB free there)" if free >= 0 else ""
    return DiskFullError(code, f"{path}: not written, {why} on the file system of {path.parent}{where}; "
                               f"nothing half-written was left (the previous {path.name}, if any, is unchanged). "
                               "Free some space and rerun")


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
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        full = None if isinstance(exc, DiskFullError) else disk_full_error(path, exc)
        if full is not None:
            raise full from exc
        raise


def atomic_write_text(path, text: str) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def atomic_write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_copy(source, path) -> None:
    """Copy ``source`` to ``path`` as the other writes are made: into a temporary file beside
    ``path``, then renamed, so a full disk or a file-size limit leaves the previous ``path``
    (``shutil.copyfile`` truncates it first and leaves the part that fitted, which may still parse
    as a valid, shorter file: a table of fewer runs)."""
    import shutil

    with atomic_path(path) as tmp, open(source, "rb") as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


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


class _WriteRecorder:
    """A file wrapper remembering the OSError of a failed write: torch's writer turns it into
    ``RuntimeError: unexpected pos ...``, which says nothing of the disk."""

    def __init__(self, f):
        self.f, self.error = f, None

    def write(self, data):
        try:
            return self.f.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self):
        return self.f.flush()


def save_tensors(path, obj) -> None:
    """``torch.save`` of ``obj`` (containers of tensors, numpy arrays and numbers), atomically;
    read it back with :func:`load_tensors`."""
    import torch

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        w = _WriteRecorder(f)
        try:
            torch.save(obj, w)
        except RuntimeError as exc:
            if w.error is not None:
                raise w.error from exc
            raise


class UnsafeFileError(ValueError):
    """A file that the restricted loader refuses (it would name code) or cannot read."""


def load_tensors(path, what: str = "file"):
    """Read a file of :func:`save_tensors` with ``torch.load(weights_only=True)`` and the numpy
    allowlist: tensors, containers, numbers, strings and numpy arrays only.  A pickle naming
    anything else -- the way a crafted file runs code (``os.system``, ``eval``, a class's
    ``__reduce__``) -- is refused unexecuted with :class:`UnsafeFileError` naming the file, as is a
    file that is not one (a directory, a truncated or garbage file)."""
    import pickle

    import torch

    path = Path(path)
    if path.is_dir():
        raise UnsafeFileError(f"{path}: a directory, not a {what}")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such {what}")
    try:
        with torch.serialization.safe_globals(numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        reason = text.split("WeightsUnpickler error:", 1)[-1].strip().splitlines()
        reason = reason[0][:200] if reason else text[:200]
        if "global" in reason.lower() or "allowlist" in reason.lower():
            raise UnsafeFileError(f"{path}: refused, it names Python objects other than tensors, numpy arrays, "
                                  f"numbers and containers ({reason}); loading it could run code from the file, "
                                  f"so it was not loaded") from None
        raise UnsafeFileError(f"{path}: not a readable {what} ({reason})") from None
    except Exception as exc:  # noqa: BLE001 - zip / pickle / OS errors: truncated or not this format
        raise UnsafeFileError(f"{path}: not a readable {what} ({type(exc).__name__}: {str(exc)[:200]}); "
                              "truncated, damaged or of another format") from None
