"""The conda environments of the rules agree with pyproject.toml (they are generated from it)."""
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def test_conda_envs_are_generated_from_pyproject():
    proc = subprocess.run([sys.executable, "workflow/scripts/make_conda_env.py", "--check"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_conda_envs_install_no_project_path_and_cuda_env_is_a_cuda_build():
    for name in ("comadice.yaml", "comadice-cuda.yaml"):
        env = yaml.safe_load((REPO / "workflow" / "envs" / name).read_text())
        pip = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
        assert not any(d.startswith("-e") or "../" in d for d in pip), pip   # works with any --conda-prefix
        assert "snakemake" not in " ".join(pip) and "pytest" not in " ".join(pip)
    cuda = yaml.safe_load((REPO / "workflow" / "envs" / "comadice-cuda.yaml").read_text())["dependencies"]
    assert any(str(d).startswith("pytorch") and "cuda" in str(d) for d in cuda)
    assert any(str(d).startswith("cuda-version") for d in cuda)
    pip = [d for d in cuda if isinstance(d, dict)][0]["pip"]
    assert any(d.startswith("jax[cuda12]==") for d in pip), pip  # the learners train in JAX
