"""Export a dataset of the harness as an OG-MARL Flashbax Vault (envs/importers/og_marl_vault_export.py).

    python workflow/scripts/export_vault.py results/smoke/datasets/smacv1/5m_vs_6m/good.h5 vaults
    # -> vaults/og_marl/smac_v1/5m_vs_6m.vlt/Good/, which OG-MARL's baselines open with
    #    populate_from_vault("og_marl", "smac_v1", "5m_vs_6m", "Good") when run from the folder above vaults/

``--source/--env/--scenario/--uid`` override the names taken from the dataset; ``--terminal-row
after-last-step`` adds a row per episode with the observation after its last step (lossless; OMIGA's
layout) instead of leaving it out (``last-step``, OG-MARL's own recorder).
Exit status 2 and a message naming the file and the problem when the dataset cannot be read or the
Vault exists already.
"""
import argparse
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(_ROOT))

from envs.dataset import load_dataset  # noqa: E402
from envs.dataset_checks import DatasetError  # noqa: E402
from envs.importers.og_marl_vault import TERMINAL_ROWS  # noqa: E402
from envs.importers.og_marl_vault_export import export_og_marl_vault  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="the harness's .h5 dataset")
    p.add_argument("rel_dir", help="the Vaults' base folder (OG-MARL's default: ./vaults)")
    for name in ("source", "env", "scenario", "uid"):
        p.add_argument(f"--{name}", default=None)
    p.add_argument("--terminal-row", choices=TERMINAL_ROWS[1:], default="last-step")
    args = p.parse_args(argv)
    try:
        ds = load_dataset(args.dataset)
        path = export_og_marl_vault(ds, args.rel_dir, source=args.source, env=args.env, scenario=args.scenario,
                                    uid=args.uid, terminal_row=args.terminal_row)
    except (DatasetError, FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {args.rel_dir}: cannot write the Vault ({exc})", file=sys.stderr)
        return 2
    print(f"{path}: {ds.meta['suite']}/{ds.meta['task']} {ds.meta['quality']}, {ds.n_episodes} episodes, "
          f"{ds.n_transitions} transitions ({args.terminal_row})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
