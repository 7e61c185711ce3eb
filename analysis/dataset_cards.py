"""Dataset cards, as OG-MARL publishes them per dataset: size (transitions, episodes), episode
return statistics (mean, population std, min, max), joint state-action coverage (Joint SACo)
and a histogram of the episode returns, the win rate where the suite has wins (SMAC: the
behaviour episodes' share won, as the generator recorded it in the file's provenance); beside
them the published dataset's card where one is known.  ``write_card_files`` writes each card
as JSON beside its histogram, with the dataset file's metadata and provenance (how it was made)
as recorded.

Joint SACo is OG-MARL's ``get_saco`` (og_marl/vault_utils/analyse_vault.py): the number of
unique rows of ``[state_t, joint action_t]`` after rounding to 4 decimals, divided by the number
of transitions.  The rows are concatenated as numpy promotes them there (float32 state and
integer actions: float64; float32 continuous actions: float32) and rounded in that dtype.
Rows up to ``EXACT_UNIQUE_BYTES`` in all are counted with ``np.unique(axis=0)`` as OG-MARL
does; larger datasets are counted in chunks by a 128-bit BLAKE2 digest of each rounded row, so
memory stays at one chunk plus a digest per unique row (a collision, which would undercount by
one, has a probability of about T**2 / 2**129).

The published cards are the project's copy ``analysis/data/og_marl_dataset_cards.csv`` (OG-MARL's
dataset card of the OMIGA data: SMACv1 and MaMuJoCo); where a dataset has none there, its
return mean, std and trajectories come from ``published_datasets.csv`` (the authors' notebook,
whose transitions are counted otherwise and are left out).
"""
from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd

from analysis.latex import latex_escape, render_template
from analysis.paper_comparison import PAPER_DATA
from envs.files import atomic_path
from envs.registry import get_task
from envs.suites import get_suite

#: OG-MARL's dataset card of the OMIGA datasets, one row per (suite, task, quality)
OG_MARL_CARDS = PAPER_DATA / "og_marl_dataset_cards.csv"
#: get_saco's rounding
SACO_DECIMALS = 4
#: the largest [state, action] array counted exactly (np.unique sorts copies of it)
EXACT_UNIQUE_BYTES = 256 * 2**20
#: the rows per chunk of the hashed count, in bytes
HASH_CHUNK_BYTES = 32 * 2**20
#: the histogram's bins (OG-MARL's descriptive_summary draws 40)
HISTOGRAM_BINS = 40
#: the card's published columns, in order
PUBLISHED_CARD_COLUMNS = ["pub_transitions", "pub_trajectories", "pub_return_mean", "pub_return_std",
                          "pub_return_min", "pub_return_max", "pub_joint_saco", "pub_card"]
#: the card's own columns, in order
CARD_COLUMNS = ["suite", "task", "quality", "backend", "transitions", "episodes", "return_mean", "return_std",
                "return_min", "return_max", "joint_saco", "win_rate_pct"]
#: the metric of the suites whose episodes are won or lost
WIN_METRIC = "win_rate_pct"


def has_wins(suite: str) -> bool:
    """Whether a suite's episodes are won or lost (its tables report the win rate)."""
    return get_suite(suite).metric == WIN_METRIC


def _state_action_rows(state: np.ndarray, actions: np.ndarray) -> tuple:
    """The [T, S] state and [T, ...] actions as 2-D arrays and the dtype OG-MARL's concatenation has."""
    state = state.reshape(state.shape[0], -1)
    actions = actions.reshape(actions.shape[0], -1)
    return state, actions, np.result_type(state.dtype, actions.dtype)


def _rounded(state, actions, dtype, decimals: int) -> np.ndarray:
    rows = np.concatenate([state.astype(dtype, copy=False), actions.astype(dtype, copy=False)], axis=1)
    # + 0.0 turns -0.0 into 0.0: np.unique compares the values, the digest their bytes
    return np.round(rows, decimals) + dtype.type(0.0)


def count_unique_rows_hashed(state, actions, decimals: int = SACO_DECIMALS, chunk_rows: int = None) -> int:
    """The number of distinct rounded [state, action] rows, counted by a digest per row chunk by chunk."""
    state, actions, dtype = _state_action_rows(state, actions)
    width = (state.shape[1] + actions.shape[1]) * dtype.itemsize
    chunk_rows = chunk_rows or max(1, HASH_CHUNK_BYTES // max(width, 1))
    seen = set()
    for lo in range(0, state.shape[0], chunk_rows):
        rows = np.ascontiguousarray(_rounded(state[lo:lo + chunk_rows], actions[lo:lo + chunk_rows], dtype, decimals))
        seen.update(hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in rows)
    return len(seen)


def count_unique_rows(state, actions, decimals: int = SACO_DECIMALS, max_exact_bytes: int = EXACT_UNIQUE_BYTES) -> int:
    """The number of distinct rounded [state, action] rows: exactly (np.unique) when they fit
    ``max_exact_bytes``, else by ``count_unique_rows_hashed``."""
    state2, actions2, dtype = _state_action_rows(state, actions)
    nbytes = state2.shape[0] * (state2.shape[1] + actions2.shape[1]) * dtype.itemsize
    if nbytes > max_exact_bytes:
        return count_unique_rows_hashed(state, actions, decimals)
    return int(np.unique(_rounded(state2, actions2, dtype, decimals), axis=0).shape[0])


def joint_saco(state, actions, decimals: int = SACO_DECIMALS, max_exact_bytes: int = EXACT_UNIQUE_BYTES) -> float:
    """OG-MARL's Joint SACo: distinct rounded (state, joint action) rows per transition."""
    n = int(np.shape(state)[0])
    return count_unique_rows(state, actions, decimals, max_exact_bytes) / n if n else float("nan")


def card_statistics(ds, returns: np.ndarray = None) -> dict:
    """A dataset's card: its size, return statistics and Joint SACo."""
    returns = ds.episode_returns() if returns is None else returns
    return {"transitions": ds.n_transitions, "episodes": ds.n_episodes,
            "return_mean": float(returns.mean()), "return_std": float(returns.std()),
            "return_min": float(returns.min()), "return_max": float(returns.max()),
            "joint_saco": joint_saco(ds.state, ds.actions)}


def og_marl_cards(path=OG_MARL_CARDS) -> pd.DataFrame:
    df = pd.read_csv(path)
    if df.duplicated(["suite", "task", "quality"]).any():
        raise ValueError(f"{path}: a (suite, task, quality) appears twice")
    return df


def published_cards(cards: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """One published card per (suite, task, quality): OG-MARL's where it has one, else the
    return and trajectories of ``published`` (dataset_stats.published_datasets)."""
    og = cards.rename(columns={c: f"pub_{c}" for c in ["transitions", "trajectories", "return_mean", "return_std",
                                                        "return_min", "return_max", "joint_saco"]})
    og = og.assign(pub_card="OG-MARL " + og["og_marl_dataset"]).drop(columns=["og_marl_dataset"])
    rest = published.merge(cards[["suite", "task", "quality"]], how="left", indicator=True)
    rest = rest[rest["_merge"] == "left_only"]
    rest = pd.DataFrame({"suite": rest["suite"], "task": rest["task"], "quality": rest["quality"],
                         "pub_trajectories": rest["trajectories"], "pub_return_mean": rest["return_mean"],
                         "pub_return_std": rest["return_std"], "pub_card": "analyze.ipynb " + rest["source"]})
    return pd.concat([og, rest], ignore_index=True).reindex(columns=["suite", "task", "quality"]
                                                            + PUBLISHED_CARD_COLUMNS)


def cards_table(rows: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """The cards' rows (``CARD_COLUMNS``, in the given order) with the published card beside each;
    the win rate only where the suite has wins (NaN elsewhere)."""
    rows = rows.assign(win_rate_pct=rows["win_rate_pct"].where([has_wins(s) for s in rows["suite"]]))
    out = rows[CARD_COLUMNS].merge(published, on=["suite", "task", "quality"], how="left", validate="many_to_one")
    return out[CARD_COLUMNS + PUBLISHED_CARD_COLUMNS]


def render_cards_table(df: pd.DataFrame, out_tex) -> str:
    rows = [{**r.to_dict(), "task": get_task(r["task"], r["suite"]).display} for _, r in df.iterrows()]
    scales = sorted({get_suite(s).title for s in df["suite"] if get_suite(s).dataset_kind == "smac"})
    return render_template("dataset_cards.tex.j2", out_tex, rows=rows, smac_titles=scales,
                           sources=[latex_escape(s) for s in dict.fromkeys(df["pub_card"].dropna())])


def histogram_ranges(df: pd.DataFrame) -> dict:
    """Per (suite, task): the range of every quality's returns, so a task's cards share an x axis
    (OG-MARL draws a vault's datasets over their common range)."""
    out = {}
    for (suite, task), g in df.groupby(["suite", "task"], sort=False):
        lo, hi = float(g["return_min"].min()), float(g["return_max"].max())
        out[(suite, task)] = (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)
    return out


def _published_marks(card: dict, scale: float) -> list:
    """(label, value on our return scale) of the published card's min, mean and max."""
    marks = []
    for key, name in (("pub_return_min", "min"), ("pub_return_mean", "mean"), ("pub_return_max", "max")):
        value = card.get(key)
        if value is not None and value == value:
            marks.append((name, float(value) * scale))
    return marks


def return_histogram(returns: np.ndarray, value_range=None) -> tuple:
    """The card's histogram of episode returns: (counts, bin edges), ``HISTOGRAM_BINS`` bins."""
    return np.histogram(returns, bins=HISTOGRAM_BINS, range=value_range)


def plot_return_histogram(returns: np.ndarray, card: dict, out_png, value_range=None, scale: float = 1.0,
                          scale_note: str = "") -> None:
    """One dataset's card figure: the histogram of its episode returns, the published card's
    min / mean / max as dashed lines (multiplied by ``scale`` onto our return scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.figures import _save

    counts, edges = return_histogram(returns, value_range)
    fig, ax = plt.subplots(figsize=(5.6, 3.2))
    ax.stairs(counts, edges, fill=True, color="C0", alpha=0.8, label=f"ours ({len(returns)} episodes)")
    for name, value in _published_marks(card, scale):
        ax.axvline(value, color="C3", ls="-" if name == "mean" else "--", lw=1.0,
                   label=f"published {name}" + (f" {scale_note}" if scale_note and name == "mean" else ""))
    ax.set_xlabel("episode return")
    ax.set_ylabel("episodes")
    ax.grid(alpha=0.3)
    title = f"{get_suite(card['suite']).title} {get_task(card['task'], card['suite']).display} {card['quality']}"
    ax.set_title(f"{title}: return {card['return_mean']:.3g} $\\pm$ {card['return_std']:.3g}, "
                 f"Joint SACo {card['joint_saco']:.2f}", fontsize=8)
    ax.legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    _save(fig, out_png, dpi=120)
    plt.close(fig)


def json_value(value):
    """``value`` as strict JSON has it: numpy arrays and scalars as lists and numbers, NaN and
    infinities (no JSON number) as null, mappings and sequences element by element."""
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_value(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def card_document(card: dict, returns: np.ndarray, meta: dict, value_range=None) -> dict:
    """One dataset's card as a JSON document: ``card`` (a row of ``cards_table``) with the
    histogram of ``returns`` over ``value_range`` (as its figure draws it) and, as recorded in
    the dataset file, its ``metadata`` (the root attributes) and ``provenance``."""
    counts, edges = return_histogram(returns, value_range)
    doc = {"suite": card["suite"], "task": card["task"], "quality": card["quality"],
           "size": {"transitions": card["transitions"], "episodes": card["episodes"]},
           "returns": {k: card[f"return_{k}"] for k in ("mean", "std", "min", "max")}}
    if has_wins(card["suite"]):
        doc["win_rate_pct"] = card["win_rate_pct"]
    doc.update({"joint_saco": card["joint_saco"],
                "histogram": {"bin_edges": edges, "counts": counts},
                "published": {c: card[c] for c in PUBLISHED_CARD_COLUMNS},
                "metadata": {k: v for k, v in meta.items() if k != "provenance"},
                "provenance": meta.get("provenance") or {}})
    return json_value(doc)


def write_card_files(df: pd.DataFrame, returns: dict, metadata: dict, paths: dict) -> None:
    """Each card of ``df`` (``cards_table``'s rows) as JSON, ``paths[(suite, task, quality)]``,
    from ``returns`` and the dataset file's ``metadata`` under the same keys; the histogram's
    range is its figure's (``histogram_ranges``)."""
    ranges = histogram_ranges(df)
    for card in df.to_dict("records"):
        key = (card["suite"], card["task"], card["quality"])
        doc = card_document(card, returns[key], metadata[key], ranges[(card["suite"], card["task"])])
        with atomic_path(paths[key]) as tmp, open(tmp, "w") as f:
            json.dump(doc, f, indent=1, allow_nan=False)
            f.write("\n")
