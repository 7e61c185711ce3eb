"""Import a published dataset into the harness's format.

    python workflow/scripts/import_dataset.py --layout comadice-npz --task smacv1/5m_vs_6m \\
        --quality good 5m_vs_6m_good.npz results/datasets/smacv1/5m_vs_6m/good.h5

Layouts: comadice-npz (the paper's public code), omiga-hdf5 (OMIGA's MaMuJoCo files),
madt (a directory of MADT episode files).  Putting the output at the path the pipeline
expects (results/datasets/{suite}/{task}/{quality}.h5) makes the training runs use it.
"""
import argparse
import sys

from envs.dataset import DatasetError, write_dataset
from envs.importers import LAYOUTS, import_dataset
from envs.registry import get_task


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layout", required=True, choices=LAYOUTS)
    p.add_argument("--task", required=True, help="e.g. smacv1/5m_vs_6m or mamujoco/Hopper_3x1")
    p.add_argument("--quality", required=True)
    p.add_argument("source")
    p.add_argument("output")
    args = p.parse_args(argv)
    try:
        task = get_task(args.task)
        ds = import_dataset(args.layout, args.source, task, args.quality)
        sha = write_dataset(ds, args.output)
    except (KeyError, ValueError, DatasetError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 2
    print(f"{args.output}: {ds.n_episodes} episodes, {ds.n_transitions} transitions, sha256 {sha}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
