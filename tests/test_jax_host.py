"""The process settings of envs/jax_host.py: a training job's thread count reaches XLA's CPU client."""
import os

from envs.jax_host import configure_jax


def test_threads_size_the_cpu_client(monkeypatch):
    monkeypatch.delenv("PJRT_NPROC", raising=False)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    configure_jax(threads=1, cache=False)
    # the CPU client's thread pool (not XLA_FLAGS) decides how many cores a program's products use
    assert os.environ["PJRT_NPROC"] == "1"
    assert "--xla_cpu_multi_thread_eigen=false" in os.environ["XLA_FLAGS"]


def test_threads_from_the_environment_win(monkeypatch):
    monkeypatch.setenv("PJRT_NPROC", "4")
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    configure_jax(threads=2, cache=False)
    assert os.environ["PJRT_NPROC"] == "4"
    assert "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", "")


def test_no_threads_leaves_the_client_alone(monkeypatch):
    monkeypatch.delenv("PJRT_NPROC", raising=False)
    configure_jax(cache=False)
    assert "PJRT_NPROC" not in os.environ
