"""Documented upper bounds that a run can meet: a setting whose memory does not fit the
machine is refused before any job, naming the key and what would fit, instead of failing inside
XLA ("Out of memory allocating 107770509272 bytes") or after hours of recording episodes."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GIB = 2**30


def _checked(tmp_path, capsys, edit, memory, monkeypatch, profile="smoke"):
    from pipeline import config_checks
    monkeypatch.setattr("envs.host_memory.machine_memory_bytes", lambda: memory)
    cfg = yaml.safe_load((ROOT / "config" / f"{profile}.yaml").read_text())
    edit(cfg)
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(cfg))
    code = config_checks.main([str(path)])
    return code, capsys.readouterr().err


def _paper_smax(cfg, **settings):
    cfg["datasets"]["generator"] = "paper"
    cfg["datasets"]["smac_like"].setdefault("mappo", {}).update(settings)


def test_smax_rollout_at_the_documented_maximum_is_refused_naming_the_keys(tmp_path, capsys, monkeypatch):
    code, err = _checked(tmp_path, capsys, lambda c: _paper_smax(c, num_envs=4096, rollout_steps=4096, env_steps=10**9),
                         24 * GIB, monkeypatch)
    assert code == 2, err
    assert "datasets.smac_like.mappo.num_envs x rollout_steps: 4096 x 4096" in err and "smacv1/5m_vs_6m" in err, err
    assert "24.0 GiB" in err and "must stay below" in err, err


def test_smac_like_episodes_at_the_documented_maximum_is_refused_naming_the_key(tmp_path, capsys, monkeypatch):
    def edit(cfg):
        cfg["datasets"]["smac_like"]["episodes"] = 1_000_000
    code, err = _checked(tmp_path, capsys, edit, 24 * GIB, monkeypatch)
    assert code == 2, err
    assert "datasets.smac_like.episodes: 1,000,000 episodes of smacv2/protoss_5_vs_5" in err and "fit" in err, err


@pytest.mark.parametrize("profile", ["smoke", "mini", "reference", "config"])
def test_the_profiles_fit_a_16_gib_machine(tmp_path, capsys, monkeypatch, profile):
    code, err = _checked(tmp_path, capsys, lambda c: None, 16 * GIB, monkeypatch, profile)
    assert code == 0, err


def test_the_rollout_estimate_reaches_what_xla_asked_for():
    """XLA asked 107,770,509,272 bytes for one buffer of 4096 x 4096 steps of 5m_vs_6m; the estimate
    of the whole update must not be below it, and the default (16 x 128) stays small."""
    from envs.registry import get_task
    from pipeline.costs import smax_rollout_bytes
    task = get_task("5m_vs_6m")
    assert smax_rollout_bytes(task, 4096, 4096, 64) >= 107_770_509_272
    assert smax_rollout_bytes(task, 16, 128, 64) < 64 * 2**20
