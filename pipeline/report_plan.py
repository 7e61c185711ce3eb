"""Which tables a config's report has: their file stems, suites, columns and titles.

Light on purpose (no pandas, numpy or jinja): the Snakefile builds the tables rule's outputs
from ``table_stems`` on a host that has only Snakemake, PyYAML and PyTorch
(tests/test_host_env.py).  Rendering them is ``analysis/score_tables.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

from envs.suites import get_suite

#: the f-divergence ablation's column headers (any other: its name)
FDIV_LABELS = {"kl": "KL", "chi2": "$\\chi^2$", "soft_chi2": "soft-$\\chi^2$"}
#: the stem of the table of the paper's numbers beside ours
COMPARISON = "paper_vs_ours"


@dataclass(frozen=True)
class Column:
    label: str          # header text
    algorithm: str
    variant: str = "default"


@dataclass(frozen=True)
class Table:
    """One table of the report: reports/<profile>/<stem>.tex and <stem>.csv."""
    stem: str
    suites: tuple
    columns: tuple
    title: str
    label: str
    metric: str = None  # a scores.csv column; None: each suite's own (envs/suites.py)
    decimals: int = 1


def algorithm_columns(algorithms) -> list:
    return [Column(a, a) for a in algorithms]


# -- the tables of a config's report -----------------------------------------------------------

def report_algorithms(config: dict) -> list:
    """The config's algorithms by their canonical names: the tables' columns, in order."""
    from pipeline.grid import canonical_algorithm

    return [canonical_algorithm(a) for a in config["algorithms"]]


def report_tables(config: dict) -> list:
    """Every table of the report but the paper side by side, in order: per suite of the config
    its table (Tables 1-3), its returns (SMAC, as the paper's appendix) and its final
    evaluation (when ``train.final_eval_episodes``), then the ablation tables."""
    from pipeline.grid import variant_for

    algos = tuple(algorithm_columns(report_algorithms(config)))
    final_eval = config["train"].get("final_eval_episodes", 0) > 0
    out = []
    for name in config["suites"]:
        s = get_suite(name)
        out.append(Table(s.table, (name,), algos, s.title, f"tab:{name}"))
        if s.returns_table:
            out.append(Table(f"{s.table}_returns", (name,), algos, f"{s.title} returns", f"tab:{name}-returns",
                             "return_mean", decimals=2))
        if final_eval:
            out.append(Table(f"{s.table}_final_eval", (name,), algos, f"{s.title}, final evaluation",
                             f"tab:{name}-final", f"final_{s.metric}"))
    abl = config.get("ablations") or {}
    if abl.get("f_divergence"):
        cols = tuple(Column(FDIV_LABELS.get(v, v), "ComaDICE", variant_for(config, "f_divergence", v))
                     for v in abl["f_divergence"])
        out.append(Table("ablation_fdiv", tuple(abl["suites"]), cols, "ComaDICE with different f-divergences",
                         "tab:ablation-fdiv"))
    if abl.get("mixer_layers"):
        cols = tuple(Column(f"{v}-layer mixer", "ComaDICE", variant_for(config, "mixer_layers", v))
                     for v in abl["mixer_layers"])
        out.append(Table("ablation_mixer", tuple(abl["suites"]), cols, "ComaDICE with a 1-layer or 2-layer mixer",
                         "tab:ablation-mixer"))
    return out


def table_stems(config: dict) -> list:
    """The stem of every table file of the report (a .tex and a .csv each): the tables rule's outputs."""
    return [t.stem for t in report_tables(config)] + [COMPARISON]


# -- the behaviour learning-curve figures ------------------------------------------------------

def behaviour_curve_tasks(config: dict) -> list:
    """One behaviour learning-curve figure per task of the config: ``(suite, task, source)``,
    the source of its curve ``"mappo"`` (a SMAX MAPPO run's mappo_curve.csv, generator paper),
    ``"d4rl"`` (a MaMuJoCo ARS / MAPPO run's curve.csv) or None (no learning run: the smoke
    generator's SMAX data come from a heuristic; the figure says so)."""
    from pipeline.grid import task_cells

    generator = config["datasets"].get("generator", "smoke")
    out = []
    for suite, task in dict.fromkeys((s, t) for s, t, _ in task_cells(config)):
        kind = get_suite(suite).dataset_kind
        out.append((suite, task, "d4rl" if kind == "d4rl" else "mappo" if generator == "paper" else None))
    return out
