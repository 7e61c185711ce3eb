"""harness.devices.pick_device: device resolution and spreading runs over GPUs (no GPU needed)."""
import subprocess
import sys
from pathlib import Path

import pytest

from harness.devices import pick_device, release_all

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _release():
    yield
    release_all()


def test_cpu_and_explicit_devices_are_kept(tmp_path):
    assert pick_device("cpu", n_devices=4, directory=tmp_path) == "cpu"
    assert pick_device("cuda:3", n_devices=4, directory=tmp_path) == "cuda:3"
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        pick_device("tpu", n_devices=0, directory=tmp_path)


def test_auto_without_cuda_is_cpu_and_cuda_is_left_to_fail(tmp_path):
    assert pick_device("auto", n_devices=0, directory=tmp_path) == "cpu"
    assert pick_device("cuda", n_devices=0, directory=tmp_path) == "cuda"
    assert pick_device("auto", n_devices=1, directory=tmp_path) == "cuda:0"


def test_concurrent_runs_spread_over_gpus_then_share(tmp_path):
    # each call stands for another process (a new open file description: its own lock)
    got = [pick_device("auto", n_devices=3, directory=tmp_path) for _ in range(5)]
    assert got == ["cuda:0", "cuda:1", "cuda:2", "cuda:0", "cuda:1"]


def test_a_finished_process_frees_its_gpu(tmp_path):
    code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); from harness.devices import pick_device; "
            f"print(pick_device('auto', n_devices=2, directory={str(tmp_path)!r}))")
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    held = pick_device("auto", n_devices=2, directory=tmp_path)      # the first process has exited
    assert first == "cuda:0" and held == "cuda:0"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == "cuda:1"                                         # GPU 0 is held by this process
