"""The dataset-statistics table (as the paper's appendix): one row per (suite, task, quality),
our dataset beside the published one the paper trained on, rendered from
reports/templates/dataset_statistics.tex.j2.

The published statistics are the project's copy ``analysis/data/published_datasets.csv``
(sources in analysis/data/README.md: the authors' ``analyze.ipynb``; SMACv1 MADT's data via
OMIGA, SMACv2 the authors' own, MaMuJoCo OMIGA's).  Returns of the SMAC suites are on
different scales (SMAX's reward is normalised, a won episode returns at most 2.0; SMAC's runs
from 0 to 20), so there ours and the published ones are compared as fractions of their scale's
maximum (``SMAC_MAX_RETURN``); MaMuJoCo returns are compared as they are (our MuJoCo v5 robots
against the published data's v2).  ``ours_vs_published_pct`` is that comparison: ours as a
percentage of the published level (100: the published level; 28: about a quarter of it).  A
dataset without a published row gets NaN there (``--`` in the table), never zero.

Each row also carries the dataset card's statistics (return min and max, OG-MARL's Joint SACo:
analysis/dataset_cards.py), and ``write_dataset_cards`` writes the cards' table and return
histograms (``dataset_cards.write_card_files`` each card as JSON).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.dataset_cards import (
    card_statistics,
    cards_table,
    histogram_ranges,
    og_marl_cards,
    plot_return_histogram,
    published_cards,
    render_cards_table,
)
from analysis.latex import latex_escape, render_template
from analysis.paper_comparison import PAPER_DATA
from analysis.score_tables import row_key
from envs.dataset import load_dataset
from envs.files import atomic_path
from envs.registry import get_task
from envs.suites import get_suite

#: the project's copy of the published datasets' statistics (analysis/data/README.md)
PUBLISHED = PAPER_DATA / "published_datasets.csv"
#: the most one episode of a SMAC-suite task can return, per dataset backend: SMAX (JaxMARL's
#: reward: the enemies' health lost, normalised to at most 1, plus its won_battle_bonus of 1),
#: StarCraft II (SMAC's reward_scale_rate: the maximum is scaled to 20), and the published data
#: imported as they are (SMAC's scale)
SMAC_MAX_RETURN = {"smax": 2.0, "sc2": 20.0, "imported": 20.0}
#: a SMAC-suite backend's return scale as a caption names it
SCALE_WORDS = {"smax": "SMAX's reward is normalised, at most {:.1f} an episode",
               "sc2": "StarCraft II's (SMAC's reward) at most {:g}", "imported": "the imported data's at most {:g}"}
#: the published SMAC datasets' scale (SMAC's reward_scale_rate)
PUBLISHED_SMAC_MAX_RETURN = 20.0
#: the columns the published statistics add to ``dataset_table``'s (``with_published``)
PUBLISHED_COLUMNS = ["return_of_max", "published_trajectories", "published_transitions", "published_return_mean",
                     "published_return_std", "published_return_of_max", "ours_vs_published_pct", "published_source"]


def dataset_summary(path) -> tuple:
    """One dataset's row of the table (its card's statistics included) and its episode returns."""
    row, returns, _ = dataset_summary_and_meta(path)
    return row, returns


def dataset_summary_and_meta(path) -> tuple:
    """``dataset_summary``'s row and returns, and the dataset file's metadata (its root
    attributes, ``provenance`` among them) as recorded."""
    ds = load_dataset(path)
    task = get_task(ds.meta["task"], ds.meta["suite"])
    returns = ds.episode_returns()
    prov = ds.meta.get("provenance") or {}
    card = card_statistics(ds, returns)
    row = {
        "suite": task.suite, "task": task.name, "quality": ds.meta["quality"],
        "trajectories": ds.n_episodes, "samples": ds.n_transitions, "agents": ds.n_agents,
        "state_dim": ds.state.shape[1], "obs_dim": ds.obs.shape[2],
        "action_dim": ds.avail.shape[2] if ds.discrete else ds.actions.shape[2],
        "return_mean": card["return_mean"], "return_std": card["return_std"],
        "return_min": card["return_min"], "return_max": card["return_max"], "joint_saco": card["joint_saco"],
        "win_rate_pct": 100.0 * prov["win_rate"] if "win_rate" in prov else np.nan,
        "backend": ds.meta.get("backend"), "approximation": bool(ds.meta.get("approximation", False)),
        "grade": ds.meta.get("grade"), "behaviour": prov.get("behaviour", ""),
    }
    return row, returns, ds.meta


def dataset_row(path) -> dict:
    return dataset_summary(path)[0]


def _count(text) -> float:
    """A size as the authors' notebook prints it: ``21.7K`` -> 21700.0, ``1311K`` -> 1311000.0."""
    text = str(text).strip()
    if text.upper().endswith("K"):
        return float(text[:-1]) * 1000.0
    return float(text)


def published_datasets(path=PUBLISHED) -> pd.DataFrame:
    """The published datasets' statistics, one row per (suite, task, quality), sizes as numbers."""
    df = pd.read_csv(path)
    for col in ("trajectories", "transitions"):
        df[col] = [_count(v) for v in df[col]]
    if df.duplicated(["suite", "task", "quality"]).any():
        raise ValueError(f"{path}: a (suite, task, quality) appears twice")
    return df


def max_return(suite: str, backend) -> float:
    """The most an episode returns on a SMAC-suite dataset's backend; NaN for other suites
    (MaMuJoCo returns have no maximum: compared as they are)."""
    if get_suite(suite).dataset_kind != "smac":
        return np.nan
    return SMAC_MAX_RETURN.get(backend, np.nan)


def published_max_return(suite: str) -> float:
    """The published datasets' return scale: SMAC's maximum for the SMAC suites, none otherwise."""
    return PUBLISHED_SMAC_MAX_RETURN if get_suite(suite).dataset_kind == "smac" else np.nan


def with_published(df: pd.DataFrame, published: pd.DataFrame = None) -> pd.DataFrame:
    """``dataset_table``'s rows with the published dataset of the same (suite, task, quality)
    beside each (``PUBLISHED_COLUMNS``; NaN where none is published).  Idempotent: published
    columns already there are replaced."""
    pub = published_datasets() if published is None else published
    ours = df.drop(columns=[c for c in PUBLISHED_COLUMNS if c in df.columns])
    pub = pub.rename(columns={"trajectories": "published_trajectories", "transitions": "published_transitions",
                              "return_mean": "published_return_mean", "return_std": "published_return_std",
                              "source": "published_source"})
    keep = ["suite", "task", "quality", "published_trajectories", "published_transitions", "published_return_mean",
            "published_return_std", "published_source"]
    out = ours.merge(pub[keep], on=["suite", "task", "quality"], how="left", validate="many_to_one")
    ours_max = np.array([max_return(s, b) for s, b in zip(out["suite"], out["backend"], strict=False)], dtype=float)
    pub_max = np.array([published_max_return(s) for s in out["suite"]], dtype=float)
    out["return_of_max"] = out["return_mean"] / ours_max
    out["published_return_of_max"] = out["published_return_mean"] / pub_max
    smac = ~np.isnan(pub_max)
    # SMAC: the fractions of each scale's maximum; MaMuJoCo: the returns themselves
    mine = np.where(smac, out["return_of_max"], out["return_mean"])
    theirs = np.where(smac, out["published_return_of_max"], out["published_return_mean"])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ours_vs_published_pct"] = np.where(theirs > 0, 100.0 * mine / theirs, np.nan)
    return out[list(ours.columns) + PUBLISHED_COLUMNS]


def dataset_table(paths, published: pd.DataFrame = None) -> pd.DataFrame:
    """One row per dataset, in the tables' row order, each beside its published dataset."""
    return table_of_rows([dataset_row(p) for p in paths], published)


def table_of_rows(rows, published: pd.DataFrame = None) -> pd.DataFrame:
    """``dataset_row``'s rows in the tables' row order, each beside its published dataset."""
    rows = sorted(rows, key=lambda r: row_key(r["suite"], r["task"], r["quality"]))
    return with_published(pd.DataFrame(rows), published)


def card_scale(suite: str, backend) -> float:
    """The factor from the published return scale onto ours (SMAX: 2.0 / 20); 1 where the scales
    agree or have no maximum (MaMuJoCo)."""
    ours, theirs = max_return(suite, backend), published_max_return(suite)
    return ours / theirs if ours == ours and theirs == theirs else 1.0


def write_dataset_cards(table: pd.DataFrame, returns: dict, published: pd.DataFrame, out_csv, out_tex,
                        figures: dict, cards: pd.DataFrame = None) -> pd.DataFrame:
    """The dataset cards: ``table``'s rows (``table_of_rows``) with the published card beside
    each, as CSV and LaTeX, and per dataset its return histogram, ``figures[(suite, task,
    quality)]``, from ``returns`` (the same keys)."""
    df = table.rename(columns={"samples": "transitions", "trajectories": "episodes"})
    df = cards_table(df, published_cards(og_marl_cards() if cards is None else cards, published))
    with atomic_path(out_csv) as tmp:
        df.to_csv(tmp, index=False)
    render_cards_table(df, out_tex)
    ranges = histogram_ranges(df)
    for card in df.to_dict("records"):
        key = (card["suite"], card["task"], card["quality"])
        scale = card_scale(card["suite"], card["backend"])
        note = f"(x {scale:g}: {PUBLISHED_SMAC_MAX_RETURN:g} -> {scale * PUBLISHED_SMAC_MAX_RETURN:g})" \
            if scale != 1.0 else ""
        plot_return_histogram(returns[key], card, figures[key], ranges[(card["suite"], card["task"])], scale, note)
    return df


def published_caption(df: pd.DataFrame) -> str:
    """The caption's sentences on the published columns (LaTeX): their sources, the scales
    they are compared on, what is missing."""
    suites = list(dict.fromkeys(df["suite"]))
    smac = [s for s in suites if get_suite(s).dataset_kind == "smac"]
    other = [s for s in suites if s not in smac]
    sources = [f"{get_suite(s).title}: " + ", ".join(latex_escape(x) for x in dict.fromkeys(
        df.loc[df["suite"] == s, "published_source"].dropna())) for s in suites]
    sources = [s for s in sources if not s.endswith(": ")]
    out = ["Published: the dataset the paper trained on, as the authors' analysis notebook reports it "
           "(vietbt/ComaDICE analyze.ipynb; analysis/data/published\\_datasets.csv"
           + ("; " + "; ".join(sources) if sources else "") + "), sizes in thousands as printed there."]
    if smac:
        backends = sorted(df.loc[df["suite"].isin(smac), "backend"].dropna().unique())
        scales = "; ".join(SCALE_WORDS[b].format(SMAC_MAX_RETURN[b]) for b in backends if b in SCALE_WORDS)
        out.append("SMAC returns are on different scales (" + (scales + "; " if scales else "")
                   + f"the published data's on SMAC's 0--{PUBLISHED_SMAC_MAX_RETURN:g}), so \\emph{{of max}} gives "
                   "each return as a fraction of its scale's maximum and \\emph{ours/pub.}\\ compares those "
                   "fractions; the published statistics give no win rate (a won SMAC episode returns about 20).")
    if other:
        names = " and ".join(get_suite(s).title for s in other)
        imported = set(df.loc[df["suite"].isin(other), "backend"].dropna()) <= {"imported"}
        out.append(f"{names} returns are compared as they are (\\emph{{ours/pub.}}: ours as a percentage of the "
                   "published return)" + ("." if imported else
                                          ", in kind only: ours from MuJoCo v5 robots, the published data's from v2."))
    if df["published_return_mean"].isna().any():
        out.append("--: no published dataset of that task and quality.")
    return " ".join(out)


def render_dataset_table(df: pd.DataFrame, out_tex) -> str:
    """The table of ``dataset_table``'s rows, a group of rows per suite."""
    df = with_published(df) if "published_return_mean" not in df.columns else df
    groups = []
    for _, r in df.iterrows():
        row = {**r.to_dict(), "task": get_task(r["task"], r["suite"]).display,
               "published_trajectories_k": r["published_trajectories"] / 1000.0,
               "published_transitions_k": r["published_transitions"] / 1000.0}
        if groups and groups[-1][-1]["suite"] == r["suite"]:
            groups[-1].append(row)
        else:
            groups.append([row])
    return render_template("dataset_statistics.tex.j2", out_tex, groups=groups,
                           grades=sorted(df["grade"].dropna().unique()), published_caption=published_caption(df))
