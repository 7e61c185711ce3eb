"""Import a published dataset into the harness's format (see envs/importers/ for the layouts).

    python workflow/scripts/import_dataset.py --layout comadice-npz --task smacv1/5m_vs_6m \\
        --quality good 5m_vs_6m_good.npz results/datasets/smacv1/5m_vs_6m/good.h5

Layouts: comadice-npz (the paper's public code, SMAC or MaMuJoCo), omiga-hdf5 (OMIGA's
MaMuJoCo files), madt (a directory of MADT SMAC episode files), og-marl-vault (one dataset of an
OG-MARL Flashbax Vault: the folder <scenario>.vlt/<uid>; ``--terminal-row`` says where its episode
ends sit, ``envs/importers/og_marl_vault.py``).  ``--backend sc2`` sizes a SMAC task by StarCraft II
(smac installed), for data recorded on the game.  ``--obs-layout`` says which
observation the source holds for a MaMuJoCo task (``authors``: the state and a one-hot agent id,
the default; ``local``: each agent's own MuJoCo v5 observation, as OMIGA's files): the dataset is
made for the task configured so, and a run uses it under ``simulators: {mamujoco_obs: <layout>}``.
Writing the output where the pipeline expects it (results/<profile>/datasets/{suite}/{task}/{quality}.h5)
makes the training runs use it.
Exit status 2 and a message naming the file and the problem when the source is malformed.
"""
import argparse
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(_ROOT))

from envs.dataset import write_dataset  # noqa: E402
from envs.dataset_checks import DatasetError  # noqa: E402
from envs.importers import LAYOUTS, import_dataset  # noqa: E402
from envs.importers.og_marl_vault import TERMINAL_ROWS  # noqa: E402
from envs.registry import MAMUJOCO_OBS_LAYOUTS, get_task  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layout", required=True, choices=LAYOUTS)
    p.add_argument("--task", required=True, help="suite/task, e.g. smacv1/5m_vs_6m or mamujoco/Hopper_3x1")
    p.add_argument("--quality", required=True, help="e.g. good, medium, expert, medium-replay")
    p.add_argument("--obs-layout", choices=MAMUJOCO_OBS_LAYOUTS, default=None,
                   help="MaMuJoCo: the observation the source holds (authors: state + one-hot agent id, the "
                        "default; local: each agent's own observation, OMIGA's files)")
    p.add_argument("--backend", choices=("smax", "sc2"), default=None,
                   help="SMAC: the simulator whose sizes the task takes (sc2: StarCraft II's, needs smac)")
    p.add_argument("--terminal-row", choices=TERMINAL_ROWS, default=None,
                   help="og-marl-vault: the flagged row is an episode's last step (last-step) or the "
                        "observation after it (after-last-step); auto, the default, decides per Vault")
    p.add_argument("source", help="the .npz / .hdf5 file, the directory of MADT episode files, or a Vault's "
                                  "<scenario>.vlt/<uid> folder")
    p.add_argument("output", help="the .h5 file to write")
    args = p.parse_args(argv)
    try:
        task = get_task(args.task, obs_layout=args.obs_layout, backend=args.backend)
        options = {} if args.terminal_row is None else {"terminal_row": args.terminal_row}
        if options and args.layout != "og-marl-vault":
            raise ValueError("--terminal-row applies to --layout og-marl-vault only")
        ds = import_dataset(args.layout, args.source, task, args.quality, **options)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError, DatasetError) as exc:  # DatasetError names the source file;
        # RuntimeError: StarCraft II or smac missing for --backend sc2 (the message says which)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"error: {args.source}: too large to import in this machine's memory", file=sys.stderr)
        return 2
    try:
        sha = write_dataset(ds, args.output)
    except OSError as exc:
        print(f"error: {args.output}: cannot write the dataset ({exc.strerror or exc})", file=sys.stderr)
        return 2
    prov = ds.meta["provenance"]
    print(f"{args.output}: {task.id} {args.quality} from {args.layout} {prov['source']} "
          f"(sha256 {prov['source_sha256'][:12]}): {ds.n_episodes} episodes "
          f"({prov['terminated']} terminated, {prov['truncated']} truncated), {ds.n_transitions} transitions; "
          f"obs {ds.obs.shape[2]}, state {ds.state.shape[1]}; sha256 {sha}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
