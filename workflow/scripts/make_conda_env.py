"""Write the conda environments of the rules from pyproject.toml, the one source of truth.

    python workflow/scripts/make_conda_env.py          # rewrite workflow/envs/*.yaml and environment.yml
    python workflow/scripts/make_conda_env.py --check  # exit 1 if they disagree (tests do this)

Both environments take Python and PyTorch from conda-forge (so that a CUDA build can be had)
and every other dependency from pip with exactly pyproject.toml's specifiers.  The project
itself is not installed: the Snakefile puts the repository on PYTHONPATH for every job, so
any --conda-prefix works and the code run is the checkout's.
- comadice.yaml: PyTorch as conda-forge chooses it: a CUDA build where the solving machine
  has an NVIDIA driver, else CPU (rules that need no GPU, and training with device: cpu);
- comadice-cuda.yaml: JAX's CUDA 12 build (``jax[cuda12]``: the offline learners train in JAX) and
  a CUDA build of PyTorch (pytorch[build='*cuda*'], CUDA 12: the MaMuJoCo behaviour MAPPO), for
  training on GPUs; on a machine without a driver (a login node), solve it with
  CONDA_OVERRIDE_CUDA=12.6.
"""
import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENVS = ROOT / "workflow" / "envs"
CUDA_VERSION = "12.*"
#: host-only tools that jobs do not need
NOT_IN_JOBS = {"snakemake", "pygments"}

if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))
from envs.files import atomic_write_text  # noqa: E402


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[;@]", spec.strip(), maxsplit=1)[0].lower()


def _cuda_jax(spec: str) -> str:
    """``jax==X`` -> ``jax[cuda12]==X`` (JAX's wheels with CUDA 12 and cuDNN from pip)."""
    return "jax[cuda12]" + spec.strip()[len("jax"):] if _name(spec) == "jax" else spec


def environments(pyproject: Path = ROOT / "pyproject.toml") -> dict:
    project = tomllib.loads(pyproject.read_text())["project"]
    deps = project["dependencies"]
    torch = [d for d in deps if _name(d) == "torch"]
    assert len(torch) == 1, "pyproject.toml must list torch once"
    torch_spec = torch[0].strip()[len("torch"):].strip()
    python = re.search(r">=\s*([0-9.]+)", project["requires-python"]).group(1)
    pip = [d for d in deps if _name(d) not in {"torch", *NOT_IN_JOBS}]
    out = {}
    for fname, pytorch, extra in [
        ("comadice.yaml", f"pytorch{torch_spec}", []),
        ("comadice-cuda.yaml", f"pytorch[version='{torch_spec.lstrip('=')}', build='*cuda*']",
         [f"cuda-version={CUDA_VERSION}"]),
    ]:
        lines = [
            "# GENERATED from pyproject.toml by workflow/scripts/make_conda_env.py: do not edit.",
            "# (tests/test_conda_env.py checks that it agrees.)",
            f"name: comadice-bench{'-cuda' if extra else ''}",
            "channels:",
            "  - conda-forge",
            "dependencies:",
            f"  - python={python}",
            "  - pip",
            f"  - {pytorch}",
            *[f"  - {e}" for e in extra],
            "  - pip:",
            *[f"      - {_cuda_jax(d) if extra else d}" for d in pip],
        ]
        out[fname] = "\n".join(lines) + "\n"
    # the whole project for a developer (repository root): the CPU env of the jobs plus the
    # host tools and the test extra, and the project itself installed from the checkout
    extras = [d for d in project.get("optional-dependencies", {}).get("test", [])]
    host = [d for d in deps if _name(d) in NOT_IN_JOBS]
    lines = [
        "# GENERATED from pyproject.toml by workflow/scripts/make_conda_env.py: do not edit.",
        "# The whole project in one conda environment: conda env create -f environment.yml",
        "name: comadice-bench-dev",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={python}",
        "  - pip",
        f"  - pytorch{torch_spec}",
        "  - pip:",
        *[f"      - {d}" for d in pip + host + extras],
        "      - -e .",
    ]
    out["../../environment.yml"] = "\n".join(lines) + "\n"
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="compare instead of writing")
    args = p.parse_args(argv)
    bad = []
    for fname, text in environments().items():
        path = (ENVS / fname).resolve()
        if args.check:
            if not path.exists() or path.read_text() != text:
                bad.append(str(path.relative_to(ROOT)))
        else:
            atomic_write_text(path, text)
            print(f"wrote {path.relative_to(ROOT)}")
    if bad:
        print("out of date with pyproject.toml: " + ", ".join(bad)
              + "\nrun: python workflow/scripts/make_conda_env.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
