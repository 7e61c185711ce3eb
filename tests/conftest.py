import pytest
import torch

from envs.jax_host import configure_jax

# the tests run JAX on the CPU, with the compilation cache the entry points use
configure_jax(platform="cpu")


@pytest.fixture(autouse=True)
def _one_thread():
    # CI has 2 cores; tests are small, so one thread each keeps timings steady
    torch.set_num_threads(1)
    yield
