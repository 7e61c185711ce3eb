import os

import pytest
import torch

os.environ.setdefault("JAX_PLATFORMS", "cpu")


@pytest.fixture(autouse=True)
def _one_thread():
    # CI has 2 cores; tests are small, so one thread each keeps timings steady
    torch.set_num_threads(1)
    yield
