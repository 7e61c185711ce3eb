"""Dataset cards (analysis/dataset_cards.py): OG-MARL's Joint SACo counted exactly and by
digest alike, the cards' statistics of a small dataset, the cards' table and histograms
beside the published card of the same task and quality, and the JSON card per dataset that the
dataset_stats rule's script writes beside each histogram."""
import json
import math
import runpy
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.dataset_cards import (
    CARD_COLUMNS,
    HISTOGRAM_BINS,
    OG_MARL_CARDS,
    PUBLISHED_CARD_COLUMNS,
    card_statistics,
    count_unique_rows,
    count_unique_rows_hashed,
    joint_saco,
    og_marl_cards,
    published_cards,
)
from analysis.dataset_stats import (
    PUBLISHED,
    dataset_summary,
    published_datasets,
    table_of_rows,
    write_dataset_cards,
)
from analysis.latex import check_tables
from envs.dataset import from_episodes, load_dataset, write_dataset
from tests.test_dataset_stats import _smax_dataset


def _og_marl_saco(state, actions, decimals=4) -> float:
    """get_saco of og_marl/vault_utils/analyse_vault.py on a vault-shaped [1, T, ...] experience."""
    states, acts = state[None], actions[None]
    pairs = np.concatenate((states.reshape((*states.shape[:2], -1)), acts.reshape((*acts.shape[:2], -1))), axis=-1)
    return np.unique(pairs.round(decimals=decimals), axis=1).shape[1] / states.shape[1]


def test_joint_saco_counts_distinct_rounded_state_action_rows():
    # rows 0, 1, 2 and 5 are one (state, joint action) after rounding (5: -0.0 against 0.0);
    # rows 3 and 4 differ in one agent's action: 3 distinct rows of 6
    state = np.array([[0, 0], [0, 0], [1e-5, 0], [1, 2], [1, 2], [-1e-5, 0]], np.float32)
    actions = np.array([[0, 1], [0, 1], [0, 1], [1, 1], [1, 0], [0, 1]], np.int64)
    assert count_unique_rows(state, actions) == 3
    assert count_unique_rows(state, actions, max_exact_bytes=0) == 3          # the digest count
    assert count_unique_rows_hashed(state, actions, chunk_rows=2) == 3        # across chunks
    assert joint_saco(state, actions) == 0.5 == _og_marl_saco(state, actions)


@pytest.mark.parametrize("discrete", [True, False])
def test_joint_saco_is_og_marls_with_either_count(discrete):
    rng = np.random.default_rng(3)
    state = rng.integers(0, 3, size=(400, 4)).astype(np.float32) / 3      # repeats, not exact in 4 decimals
    actions = (rng.integers(0, 2, size=(400, 3)) if discrete
               else rng.integers(0, 2, size=(400, 3, 2)).astype(np.float32) / 7)
    expected = _og_marl_saco(state, actions)
    assert 0.0 < expected < 1.0
    assert joint_saco(state, actions) == expected
    assert joint_saco(state, actions, max_exact_bytes=0) == expected


def test_the_card_of_a_small_dataset(tmp_path):
    ds = load_dataset(_smax_dataset(tmp_path / "good.h5", n=4))
    card = card_statistics(ds)
    assert set(card) == {"transitions", "episodes", "return_mean", "return_std", "return_min", "return_max",
                         "joint_saco"}
    assert (card["transitions"], card["episodes"]) == (20, 4)
    assert card["return_mean"] == card["return_min"] == card["return_max"] == pytest.approx(2.0)
    assert card["return_std"] == pytest.approx(0.0, abs=1e-9)
    assert card["joint_saco"] == 1.0                                          # random states: no repeat


def test_published_cards_are_og_marls_else_the_notebooks():
    pub = published_cards(og_marl_cards(), published_datasets()).set_index(["suite", "task", "quality"])
    good = pub.loc[("smacv1", "5m_vs_6m", "good")]
    assert (good.pub_return_mean, good.pub_return_min, good.pub_joint_saco, good.pub_transitions) == \
        (20.0, 20.0, 0.96, 27734)
    assert good.pub_card == "OG-MARL omiga/smac_v1/5m_vs_6m.vlt/Good"
    protoss = pub.loc[("smacv2", "protoss_5_vs_5", "medium")]                 # no OG-MARL card: the notebook's
    assert protoss.pub_return_mean == 16.8 and math.isnan(protoss.pub_joint_saco)
    assert math.isnan(protoss.pub_transitions) and protoss.pub_card.startswith("analyze.ipynb")
    assert not pub.index.duplicated().any()


def test_the_cards_table_and_histograms(tmp_path):
    summaries = [dataset_summary(_smax_dataset(tmp_path / "good.h5")),
                 dataset_summary(_smax_dataset(tmp_path / "medium.h5", "medium", 0.55))]
    table = table_of_rows([row for row, _ in summaries])
    assert {"return_min", "return_max", "joint_saco"} <= set(table.columns)
    returns = {(r["suite"], r["task"], r["quality"]): ret for r, ret in summaries}
    figures = {key: tmp_path / f"{key[2]}.png" for key in returns}
    cards = write_dataset_cards(table, returns, published_datasets(), tmp_path / "cards.csv",
                                tmp_path / "cards.tex", figures)
    assert list(cards.columns) == CARD_COLUMNS + PUBLISHED_CARD_COLUMNS
    assert list(cards["quality"]) == ["medium", "good"]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "cards.csv"), cards, check_dtype=False)
    good = cards.set_index("quality").loc["good"]
    assert good.transitions == 20 and good.episodes == 4 and good.joint_saco == 1.0 and good.win_rate_pct == 100.0
    assert good.pub_return_mean == 20.0 and good.pub_joint_saco == 0.96
    for png in figures.values():
        assert png.stat().st_size > 5_000
    tex = (tmp_path / "cards.tex").read_text()
    assert "& 20 & 4 & 2.00 $\\pm$ 0.00 & 2.00 / 2.00 & 1.00 & 100.0 & 27734 & 1001 & 20.00 $\\pm$ 0.00 & 20.00 & " \
           "20.00 & 0.96 \\\\" in tex
    assert "get\\_saco" in tex and "OG-MARL omiga/smac\\_v1/5m\\_vs\\_6m.vlt/Good" in tex
    check_tables([tmp_path / "cards.tex"])


#: how a generated SMAX dataset records its making (as behaviour.qualities.dataset_meta writes it)
SMAX_PROVENANCE = {"behaviour": "mappo-jax-checkpoints-by-return-band", "run_env_steps": 4096, "seed": 7,
                   "win_rate": 0.75, "episodes": 4, "smax_return_band": [1.5, 2.1],
                   "checkpoints": [{"checkpoint_iteration": 3, "checkpoint_win_rate": 0.5, "kept": 4}]}


def _generated_smax_dataset(path):
    rng = np.random.default_rng(1)
    eps = [{"obs": rng.normal(size=(4, 5, 4)), "state": rng.normal(size=(4, 6)), "reward": np.full(3, r / 3),
            "terminated": True, "avail": np.ones((4, 5, 3), bool), "actions": rng.integers(0, 3, size=(3, 5))}
           for r in (2.0, 2.0, 2.0, 0.5)]
    meta = {"suite": "smacv1", "task": "5m_vs_6m", "quality": "good", "backend": "smax",
            "backend_version": "jaxmarl 0.0.7, jax 0.4.35", "action_type": "discrete", "n_agents": 5,
            "approximation": True, "obs_layout": "global", "grade": "paper", "provenance": SMAX_PROVENANCE}
    write_dataset(from_episodes(eps, meta), path)
    return path


def _mamujoco_dataset(path):
    rng = np.random.default_rng(2)
    eps = [{"obs": rng.normal(size=(6, 3, 4)), "state": rng.normal(size=(6, 5)), "reward": rng.normal(size=5),
            "terminated": False, "actions": rng.uniform(-1, 1, size=(5, 3, 1)).astype(np.float32)}
           for _ in range(3)]
    meta = {"suite": "mamujoco", "task": "Hopper_3x1", "quality": "expert", "backend": "mamujoco",
            "backend_version": "gymnasium-robotics 1.3.1", "action_type": "continuous", "grade": "smoke",
            "provenance": {"behaviour": "ars-checkpoint", "seed": 0, "checkpoint_iteration": 12}}
    write_dataset(from_episodes(eps, meta), path)
    return path


def _run_dataset_stats_script(datasets, out):
    """workflow/scripts/dataset_stats.py as the dataset_stats rule runs it, its outputs under ``out``."""
    names = [Path(d).stem for d in datasets]
    out.mkdir(parents=True, exist_ok=True)                                  # as Snakemake makes them
    snakemake = types.SimpleNamespace(
        input=types.SimpleNamespace(datasets=[str(d) for d in datasets], published=str(PUBLISHED),
                                    og_marl_cards=str(OG_MARL_CARDS)),
        output=types.SimpleNamespace(tex=str(out / "dataset_statistics.tex"), csv=str(out / "dataset_statistics.csv"),
                                     cards_tex=str(out / "dataset_cards.tex"), cards_csv=str(out / "dataset_cards.csv"),
                                     histograms=[str(out / "dataset_cards" / f"{n}.png") for n in names],
                                     card_files=[str(out / "dataset_cards" / f"{n}.json") for n in names]),
        log=[str(out / "dataset_stats.log")])
    root = Path(__file__).resolve().parents[1]
    runpy.run_path(str(root / "workflow" / "scripts" / "dataset_stats.py"), init_globals={"snakemake": snakemake})
    return {n: json.loads((out / "dataset_cards" / f"{n}.json").read_text()) for n in names}


def test_the_rules_script_writes_a_json_card_beside_each_histogram(tmp_path):
    """A SMAX card has its win rate and the file's metadata and provenance as recorded; a
    MaMuJoCo one no win rate; both the histogram their figure draws and the published card."""
    out = tmp_path / "reports"
    datasets = [_generated_smax_dataset(tmp_path / "smacv1_5m_vs_6m_good.h5"),
                _mamujoco_dataset(tmp_path / "mamujoco_Hopper_3x1_expert.h5")]
    cards = _run_dataset_stats_script(datasets, out)
    smax, hopper = cards["smacv1_5m_vs_6m_good"], cards["mamujoco_Hopper_3x1_expert"]
    assert (smax["suite"], smax["task"], smax["quality"]) == ("smacv1", "5m_vs_6m", "good")
    assert smax["size"] == {"transitions": 12, "episodes": 4}
    assert smax["returns"]["mean"] == pytest.approx(1.625) and smax["returns"]["min"] == pytest.approx(0.5)
    assert smax["win_rate_pct"] == 75.0 and "win_rate_pct" not in hopper
    assert smax["joint_saco"] == 1.0
    assert smax["provenance"] == SMAX_PROVENANCE
    assert hopper["provenance"] == {"behaviour": "ars-checkpoint", "seed": 0, "checkpoint_iteration": 12}
    meta = smax["metadata"]
    assert (meta["backend"], meta["backend_version"], meta["grade"], meta["obs_layout"], meta["n_agents"]) == \
        ("smax", "jaxmarl 0.0.7, jax 0.4.35", "paper", "global", 5)
    assert meta["schema_version"] == 1 and "provenance" not in meta
    assert hopper["metadata"]["backend_version"] == "gymnasium-robotics 1.3.1"
    for card in (smax, hopper):
        hist = card["histogram"]
        assert len(hist["bin_edges"]) == len(hist["counts"]) + 1 == HISTOGRAM_BINS + 1
        assert sum(hist["counts"]) == card["size"]["episodes"]
        assert hist["bin_edges"][0] == pytest.approx(card["returns"]["min"])
        assert set(card["published"]) == set(PUBLISHED_CARD_COLUMNS)
        assert (out / "dataset_cards" / f"{card['suite']}_{card['task']}_{card['quality']}.png").stat().st_size > 5_000
    assert smax["published"]["pub_joint_saco"] == 0.96 and smax["published"]["pub_return_mean"] == 20.0
    assert hopper["published"]["pub_card"].startswith("OG-MARL")
    table = pd.read_csv(out / "dataset_cards.csv").set_index("suite")
    assert table.loc["smacv1", "win_rate_pct"] == 75.0 and math.isnan(table.loc["mamujoco", "win_rate_pct"])
    assert "& 1.00 & 75.0 & 27734" in (out / "dataset_cards.tex").read_text()
    check_tables([out / "dataset_cards.tex"])
