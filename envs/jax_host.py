"""JAX's process settings, made by one explicit call of each entry point that runs JAX.

Importing a module of this project never configures JAX: the training harness
(``harness/engine.py configure_host``), the SMAX behaviour scripts, the tests (``tests/conftest.py``)
and the benchmarks call :func:`configure_jax` themselves, before they run JAX.

- ``platform``: the default of ``JAX_PLATFORMS`` (a value already in the environment wins).  JAX
  reads the variable when it is imported, so an entry point that wants the default passes it
  before anything imports ``jax``; the SMAX data generators run on the CPU (``"cpu"``).
- ``threads``: XLA's CPU backend on that many threads (the workflow gives each training job its
  cores): the CPU client's thread pool, which runs a program's independent operations and splits its
  matrix products, is sized by ``PJRT_NPROC`` (by default every core the process may use, whatever
  ``XLA_FLAGS`` say: a "one-thread" process used both cores of this 2-core machine, and two such
  jobs side by side each ran at about half speed); with 1, also Eigen's own threads off.  Both are
  read when JAX starts its CPU backend; values already in the environment win.
- ``cache``: the persistent compilation cache in ``COMADICE_JAX_CACHE`` (default
  ``~/.cache/comadice_jax``), every compilation cached (minimum compile time 0): a program is
  compiled once per machine, not once per job.
"""
from __future__ import annotations

import os

#: where compiled programs are kept unless ``COMADICE_JAX_CACHE`` names another folder
DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "comadice_jax")


def compilation_cache_dir() -> str:
    return os.environ.get("COMADICE_JAX_CACHE", DEFAULT_CACHE)


def configure_jax(threads: int | None = None, cache: bool = True, platform: str | None = None) -> None:
    """Set this process's JAX platform default, XLA CPU threads and compilation cache (module doc)."""
    if platform is not None:
        os.environ.setdefault("JAX_PLATFORMS", platform)
    if threads is not None:
        os.environ.setdefault("PJRT_NPROC", str(threads))
    if threads == 1 and "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    if not cache:
        return
    import jax

    try:
        jax.config.update("jax_compilation_cache_dir", compilation_cache_dir())
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    except Exception:  # noqa: BLE001 - a jax without the option runs without the cache
        pass
