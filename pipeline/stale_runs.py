"""Runs trained on data that is no longer at their dataset's path: noticed, named and rerun.

A run records the sha256 of the dataset file it trained on (``dataset_sha256`` in metrics.json,
``harness/train.py``).  A dataset regenerated or imported over afterwards (or while the run
trained) leaves a result of data that no longer exist; Snakemake's own triggers miss it when the
new file is not newer than the result (a copy that keeps its modification time, ``cp -p``,
``rsync -t``; a file replaced while the run was training).  So the workflow compares the recorded
checksum with the file now at the path three times:

- when the workflow starts (``workflow/rules/common.smk``): every finished run of the grid; a
  stale one's ``metrics.json`` is set aside, so that this invocation retrains it;
- when a run ends (``workflow/scripts/train.py``): a dataset replaced while it trained makes it
  train again on the file now there;
- at aggregation (``analysis/aggregate.py``): anything left is refused, named, and set aside, so
  that the next invocation retrains it; never a table of data that no longer exist.

A stale result is never deleted: ``metrics.json`` is renamed ``metrics.json.stale-<time>`` beside it.
Checksums are cached per file by (inode, size, modification and change times), so an unchanged
dataset is read once, not at every start.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from envs.dataset import file_sha256
from envs.files import atomic_write_text


@dataclass(frozen=True)
class StaleRun:
    metrics: Path
    dataset: Path
    recorded: str
    current: str | None   # None: no dataset at the path now

    def describe(self) -> str:
        now = "no file there now" if self.current is None else f"the file there now is {self.current[:12]}"
        return f"{self.metrics.parent}: trained on {self.dataset} with sha256 {self.recorded[:12]}, {now}"


class DatasetChecksums:
    """sha256 of dataset files, each read once while it is unchanged (the cache, when given a path,
    persists between invocations)."""

    def __init__(self, cache_path=None):
        self.cache_path = Path(cache_path) if cache_path else None
        self.cache, self.dirty = {}, False
        if self.cache_path is not None and self.cache_path.is_file():
            try:
                loaded = json.loads(self.cache_path.read_text())
                self.cache = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self.cache = {}

    @staticmethod
    def _stamp(st) -> list:
        return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]

    def __call__(self, path) -> str | None:
        path = Path(path)
        try:
            st = path.stat()
        except OSError:
            return None
        if not path.is_file():
            return None
        key = str(path.resolve())
        hit = self.cache.get(key)
        if isinstance(hit, dict) and hit.get("stamp") == self._stamp(st):
            return hit.get("sha256")
        sha = file_sha256(path)
        self.cache[key], self.dirty = {"stamp": self._stamp(st), "sha256": sha}, True
        return sha

    def save(self) -> None:
        if self.cache_path is not None and self.dirty:
            try:
                atomic_write_text(self.cache_path, json.dumps(self.cache, indent=1))
            except OSError:
                pass  # a cache: the checksums are computed again next time


def recorded_checksum(metrics_path) -> str | None:
    """The dataset checksum a finished run recorded, or None (no metrics.json, unreadable, none
    recorded: aggregation names an unreadable file)."""
    try:
        m = json.loads(Path(metrics_path).read_text())
    except (OSError, ValueError, RecursionError):
        return None
    sha = m.get("dataset_sha256") if isinstance(m, dict) else None
    return sha if isinstance(sha, str) and sha else None


def stale_runs(pairs: Iterable[tuple], checksums: DatasetChecksums = None) -> list:
    """The runs among ``(metrics.json, dataset path)`` pairs whose recorded dataset checksum is not
    the file's now at the dataset's path."""
    checksums = checksums or DatasetChecksums()
    out = []
    for metrics, dataset in pairs:
        metrics, dataset = Path(metrics), Path(dataset)
        if not metrics.is_file():
            continue
        recorded = recorded_checksum(metrics)
        if recorded is None:
            continue
        current = checksums(dataset)
        if current != recorded:
            out.append(StaleRun(metrics, dataset, recorded, current))
    return out


def set_aside(stale: StaleRun) -> Path:
    """Rename the stale run's metrics.json beside it (the workflow then retrains the run); returns
    the new name."""
    target = stale.metrics.with_name(f"{stale.metrics.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while target.exists():
        target, n = target.with_name(f"{target.name}-{n}"), n + 1
    os.replace(stale.metrics, target)
    return target


def set_aside_stale_runs(pairs: Iterable[tuple], cache_path=None, log=print) -> list:
    """Find the stale runs among ``pairs``, set each aside and name it; returns them."""
    checksums = DatasetChecksums(cache_path)
    found = stale_runs(pairs, checksums)
    checksums.save()
    for s in found:
        moved = set_aside(s)
        log(f"stale run: {s.describe()}; its result is set aside as {moved.name} and the run is trained again")
    return found
