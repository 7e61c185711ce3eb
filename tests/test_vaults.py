"""OG-MARL Vaults in and out: the harness's datasets exported and imported back unchanged; Vaults that
do not fit are refused naming their folder."""
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from behaviour.d4rl_like.ars import train_ars
from behaviour.d4rl_like.datasets import mamujoco_from_ars
from behaviour.smac_like.heuristic import collect_smax
from envs.dataset import write_dataset
from envs.dataset_checks import DatasetError
from envs.importers import LAYOUTS, import_dataset
from envs.importers.og_marl_vault import import_og_marl_vault
from envs.importers.og_marl_vault_export import export_og_marl_vault, vault_rows
from envs.registry import get_task

ROOT = Path(__file__).resolve().parents[1]
SMAC = get_task("smacv1/5m_vs_6m")
HOPPER = get_task("mamujoco/Hopper_3x1")  # the authors' observation: state + one-hot id, standardised
STEP_ARRAYS = ("obs", "state", "actions", "reward", "episode_start", "terminated", "truncated", "avail")
FINAL_ARRAYS = ("final_obs", "final_state", "final_avail")


@pytest.fixture(scope="module")
def smax_dataset():
    return collect_smax(SMAC, "medium", 4, seed=0)


@pytest.fixture(scope="module")
def hopper_dataset():
    run = train_ars(HOPPER, iterations=2, directions=2, top=1, seed=0)
    return mamujoco_from_ars(HOPPER, "medium-replay", run, n_episodes=2, seed=0)


def assert_same(ds, back, names):
    for name in names:
        a, b = getattr(ds, name), getattr(back, name)
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("terminal_row", ["last-step", "after-last-step"])
def test_smax_dataset_round_trips(tmp_path, smax_dataset, terminal_row):
    path = export_og_marl_vault(smax_dataset, tmp_path / "vaults", terminal_row=terminal_row)
    assert path == (tmp_path / "vaults/og_marl/smac_v1/5m_vs_6m.vlt/Medium").resolve()
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["terminal_row"] == terminal_row and meta["structure_dtype"]["actions"] == "int32"
    assert set(meta["structure_shape"]["infos"]) == {"state", "legals"}
    back = import_og_marl_vault(path, SMAC, "medium")
    assert_same(smax_dataset, back, STEP_ARRAYS)
    if terminal_row == "after-last-step":  # the observation after each episode's last step has its row
        assert_same(smax_dataset, back, FINAL_ARRAYS)
    else:  # OG-MARL's recorder leaves it out: the last step's observation stands in for it
        ends = smax_dataset.episode_bounds()[:, 1] - 1
        np.testing.assert_array_equal(back.final_obs, smax_dataset.obs[ends])
    prov = back.meta["provenance"]
    assert back.meta["grade"] == "imported" and prov["layout"] == "og-marl-vault"
    assert prov["terminal_row"] == terminal_row and len(prov["source_sha256"]) == 64


def test_hopper_dataset_round_trips_as_omiga_layout(tmp_path, hopper_dataset):
    path = export_og_marl_vault(hopper_dataset, tmp_path, terminal_row="after-last-step")
    assert path.parts[-4:] == ("omiga", "mamujoco", "3hopper.vlt", "Medium-Replay")
    rows = vault_rows(hopper_dataset, "after-last-step")
    assert rows["actions"].dtype == np.float32 and rows["actions"].shape[-1] == 1 and "legals" not in rows["infos"]
    back = import_og_marl_vault(path, HOPPER, "medium-replay")
    assert_same(hopper_dataset, back, STEP_ARRAYS + FINAL_ARRAYS)
    assert back.meta["provenance"]["obs_layout"].startswith("state + one-hot")


def test_omiga_mamujoco_state_is_recovered_from_the_observations(tmp_path, hopper_dataset):
    """OMIGA's MaMuJoCo Vaults: infos.state as wide as the observation (state + id); no terminal_row
    in the metadata, so ``auto`` reads the flagged rows as the observations after the last steps."""
    path = export_og_marl_vault(hopper_dataset, tmp_path, terminal_row="after-last-step")
    meta = json.loads((path / "metadata.json").read_text())
    del meta["terminal_row"]
    (path / "metadata.json").write_text(json.dumps(meta))
    rows = vault_rows(hopper_dataset, "after-last-step")
    wide = rows["observations"][:, :, 0]  # agent 0's observation, as OMIGA's state
    path2 = _rewrite_leaf(tmp_path / "wide", hopper_dataset, "state", wide)
    back = import_og_marl_vault(path2, HOPPER, "medium-replay")
    np.testing.assert_allclose(back.state, hopper_dataset.state, atol=1e-4)
    assert back.meta["provenance"]["terminal_row"] == "after-last-step"
    assert back.meta["provenance"]["state_source"].startswith("agent 0's observation")


def _rewrite_leaf(rel_dir, ds, key, value, drop=None):
    """A Vault of ``ds`` in OMIGA's layout (no terminal_row recorded) with ``infos[key]`` replaced
    (or ``drop`` left out)."""
    from flashbax.buffers.trajectory_buffer import TrajectoryBufferState
    from flashbax.vault import Vault

    exp = vault_rows(ds, "after-last-step")
    if value is not None:
        exp["infos"][key] = value
    if drop:
        exp["infos"].pop(drop)
    T = exp["observations"].shape[1]
    v = Vault(vault_name="omiga/mamujoco/3hopper.vlt" if not ds.discrete else "og_marl/smac_v1/5m_vs_6m.vlt",
              experience_structure=exp, rel_dir=str(Path(rel_dir).resolve()), vault_uid="X")
    v.write(TrajectoryBufferState(experience=exp, current_index=np.int32(T), is_full=np.bool_(False)),
            source_interval=(0, T))
    return Path(v._base_path)


def test_refusals_name_the_folder(tmp_path, smax_dataset, hopper_dataset):
    path = export_og_marl_vault(smax_dataset, tmp_path)
    with pytest.raises(DatasetError, match=r"Medium: a Vault of scenario '5m_vs_6m', not of task smacv1/6h_vs_8z"):
        import_og_marl_vault(path, get_task("smacv1/6h_vs_8z"), "medium")
    with pytest.raises(DatasetError, match=r"Medium: a Vault of OG-MARL's smac_v1 environment .* mamujoco/Hopper_3x1"):
        import_og_marl_vault(path, HOPPER, "medium")
    renamed = tmp_path / "mine" / "X"  # a folder without OG-MARL's names: the widths decide
    shutil.copytree(path, renamed)
    wider = replace(SMAC, obs_dim=SMAC.obs_dim + 1)
    with pytest.raises(DatasetError, match=r"X: does not fit task smacv1/5m_vs_6m: observation size"):
        import_og_marl_vault(renamed, wider, "medium")
    missing = _rewrite_leaf(tmp_path / "missing", smax_dataset, "state", None, drop="legals")
    with pytest.raises(DatasetError, match=r"X: missing leaf\(s\) infos.legals"):
        import_og_marl_vault(missing, SMAC, "medium")
    with pytest.raises(DatasetError, match=r"5m_vs_6m.vlt: a Vault with the datasets Medium: give one"):
        import_og_marl_vault(path.parent, SMAC, "medium")
    with pytest.raises(DatasetError, match=r"continuous actions, task smacv1/5m_vs_6m is discrete"):
        import_og_marl_vault(export_og_marl_vault(hopper_dataset, tmp_path / "h", env="x", scenario="y"),
                             SMAC, "medium")


def test_empty_vault_and_other_environment_are_refused(tmp_path, smax_dataset):
    from flashbax.vault import Vault

    exp = vault_rows(smax_dataset)
    Vault(vault_name="og_marl/smac_v1/5m_vs_6m.vlt", experience_structure=exp, rel_dir=str(tmp_path), vault_uid="E")
    with pytest.raises(DatasetError, match=r"E: an empty Vault"):
        import_og_marl_vault(tmp_path / "og_marl/smac_v1/5m_vs_6m.vlt/E", SMAC, "medium")
    other = export_og_marl_vault(smax_dataset, tmp_path, env="flatland", scenario="5m_vs_6m")
    with pytest.raises(DatasetError, match=r"Medium: a Vault of OG-MARL's flatland environment"):
        import_og_marl_vault(other, SMAC, "medium")


def test_layout_table_and_scripts(tmp_path, smax_dataset):
    assert "og-marl-vault" in LAYOUTS
    h5 = tmp_path / "medium.h5"
    write_dataset(smax_dataset, h5)

    def run(*args):
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT)

    out = run("workflow/scripts/export_vault.py", str(h5), str(tmp_path / "v"), "--uid", "Mine")
    assert out.returncode == 0, out.stderr
    vault = tmp_path / "v/og_marl/smac_v1/5m_vs_6m.vlt/Mine"
    again = run("workflow/scripts/export_vault.py", str(h5), str(tmp_path / "v"), "--uid", "Mine")
    assert again.returncode == 2 and "exists already" in again.stderr
    out = run("workflow/scripts/import_dataset.py", "--layout", "og-marl-vault", "--task", "smacv1/5m_vs_6m",
              "--quality", "medium", str(vault), str(tmp_path / "back.h5"))
    assert out.returncode == 0, out.stderr
    bad = run("workflow/scripts/import_dataset.py", "--layout", "og-marl-vault", "--task", "smacv1/corridor",
              "--quality", "medium", str(vault), str(tmp_path / "no.h5"))
    assert bad.returncode == 2 and "Mine: a Vault of scenario '5m_vs_6m'" in bad.stderr
    back = import_dataset("og-marl-vault", vault, SMAC, "medium", terminal_row="last-step")
    assert back.n_transitions == smax_dataset.n_transitions


# Vaults written by flashbax itself, as OG-MARL records them (a flat buffer filled step by step, then
# ``Vault.write``): imported, then trained on through the training entry.

def _flashbax_vault(rel_dir, vault_name, steps):
    """A Vault at ``rel_dir/vault_name/Good`` written by flashbax from per-step dicts (leaves without
    the batch and time axes), as OG-MARL's recorder adds them to a flat buffer."""
    import flashbax as fbx
    import jax
    from flashbax.vault import Vault

    buffer = fbx.make_flat_buffer(max_length=len(steps) + 8, min_length=1, sample_batch_size=1)
    state = buffer.init(steps[0])
    vault = Vault(vault_name=vault_name, experience_structure=state.experience,
                  rel_dir=str(Path(rel_dir).resolve()), vault_uid="Good")
    for step in steps:
        state = buffer.add(state, jax.tree.map(np.asarray, step))
    assert vault.write(state) == len(steps)
    return Path(vault._base_path)


def _smac_steps(task, lengths, rng, obs_rank=2):
    """Episodes of ``lengths`` steps in OG-MARL's SMAC layout, the last step of each flagged in
    ``terminals`` (every agent), legal actions including the one taken."""
    N, A, steps = task.n_agents, task.action_dim, []
    for L in lengths:
        for t in range(L):
            legals = (rng.random((N, A)) < 0.5).astype(np.float32)
            actions = np.array([rng.choice(np.flatnonzero(row)) if row.any() else 0 for row in legals], np.int32)
            legals[np.arange(N), actions] = 1.0
            obs = rng.normal(size=(N, task.obs_dim) if obs_rank == 2 else (task.obs_dim,)).astype(np.float32)
            steps.append({"observations": obs, "actions": actions,
                          "rewards": np.full(N, rng.random(), np.float32),
                          "terminals": np.full(N, float(t == L - 1), np.float32),
                          "truncations": np.zeros(N, np.float32),
                          "infos": {"legals": legals,
                                    "state": rng.normal(size=task.state_dim).astype(np.float32)}})
    return steps


def _hopper_steps(task, lengths, rng):
    """Episodes in OMIGA's MaMuJoCo layout (observation = state + one-hot id, standardised): each
    episode's last row the observation after its last step, flagged in ``terminals``."""
    from envs.importers.common import state_id_obs

    N, steps = task.n_agents, []
    for L in lengths:
        for t in range(L + 1):
            state = rng.normal(size=task.state_dim).astype(np.float32)
            steps.append({"observations": state_id_obs(state, N),
                          "actions": rng.uniform(-1, 1, size=(N, task.action_dim)).astype(np.float32),
                          "rewards": np.full(N, 0.0 if t == L else rng.random(), np.float32),
                          "terminals": np.full(N, float(t == L), np.float32),
                          "truncations": np.zeros(N, np.float32),
                          "infos": {"state": state}})
    return steps


def _train_on(tmp_path, ds, task, quality):
    from harness.train import RunConfig, train

    h5 = tmp_path / f"{quality}.h5"
    write_dataset(ds, h5)
    out = tmp_path / "run"
    train(RunConfig(dataset=str(h5), algorithm="BC", n_updates=4, n_evals=1, eval_episodes=2,
                    hyperparameters={"hidden": 16}, device="cpu", task=task.id, quality=quality),
          out, log=lambda s: None)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "ok", metrics


def test_a_vault_written_by_flashbax_smac_imports_and_trains(tmp_path):
    lengths = (5, 9, 4)
    path = _flashbax_vault(tmp_path / "vaults", "og_marl/smac_v1/5m_vs_6m.vlt",
                           _smac_steps(SMAC, lengths, np.random.default_rng(0)))
    meta = json.loads((path / "metadata.json").read_text())
    assert "terminal_row" not in meta and meta["structure_shape"]["observations"].startswith("(1, ")
    ds = import_dataset("og-marl-vault", path, SMAC, "medium")
    assert ds.n_episodes == len(lengths) and ds.n_transitions == sum(lengths)
    assert ds.meta["provenance"]["terminal_row"] == "last-step" and ds.meta["provenance"]["terminated"] == 3
    _train_on(tmp_path, ds, SMAC, "medium")


def test_a_vault_written_by_flashbax_hopper_imports_and_trains(tmp_path):
    lengths = (6, 3)
    path = _flashbax_vault(tmp_path / "vaults", "omiga/mamujoco/3hopper.vlt",
                           _hopper_steps(HOPPER, lengths, np.random.default_rng(1)))
    ds = import_og_marl_vault(path, HOPPER, "medium-replay")
    assert ds.n_episodes == len(lengths) and ds.n_transitions == sum(lengths)
    assert ds.meta["provenance"]["terminal_row"] == "after-last-step"
    assert ds.meta["provenance"]["obs_layout"].startswith("state + one-hot")
    _train_on(tmp_path, ds, HOPPER, "medium-replay")


# Malformed Vaults: refused naming the folder, nothing written where the import would write.

def _import_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("import_dataset_script", ROOT / "workflow/scripts/import_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _refused(tmp_path, capsys, vault, match):
    out = tmp_path / "out" / "medium.h5"
    out.parent.mkdir(exist_ok=True)
    rc = _import_script()(["--layout", "og-marl-vault", "--task", SMAC.id, "--quality", "medium",
                           str(vault), str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert str(vault) in err and re.search(match, err), err
    assert list(out.parent.iterdir()) == []  # no output, no temporary left behind
    with pytest.raises(DatasetError, match=match):
        import_og_marl_vault(vault, SMAC, "medium")


@pytest.fixture
def good_vault(tmp_path):
    return _flashbax_vault(tmp_path / "vaults", "og_marl/smac_v1/5m_vs_6m.vlt",
                           _smac_steps(SMAC, (4, 3), np.random.default_rng(2)))


def test_observations_without_the_agent_axis_are_refused(tmp_path, capsys):
    vault = _flashbax_vault(tmp_path / "vaults", "og_marl/smac_v1/5m_vs_6m.vlt",
                            _smac_steps(SMAC, (4, 3), np.random.default_rng(3), obs_rank=1))
    _refused(tmp_path, capsys, vault, r"'observations' has shape \(1, 7, \d+\), expected \[rows, time, N=5, O\]")


def test_a_missing_leaf_is_refused_with_nothing_written(tmp_path, capsys):
    steps = _smac_steps(SMAC, (4, 3), np.random.default_rng(4))
    for step in steps:
        del step["infos"]["legals"]
    vault = _flashbax_vault(tmp_path / "vaults", "og_marl/smac_v1/5m_vs_6m.vlt", steps)
    _refused(tmp_path, capsys, vault, r"missing leaf\(s\) infos.legals")


@pytest.mark.parametrize("inside", ["metadata.json", "data file", "folder"])
def test_a_link_out_of_the_vault_folder_is_refused(tmp_path, capsys, good_vault, inside):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    if inside == "folder":  # the data folder itself moved out and linked back
        shutil.move(good_vault / "d", outside / "d")
        (good_vault / "d").symlink_to(outside / "d")
    else:
        target = good_vault / "metadata.json" if inside == "metadata.json" else next((good_vault / "d").iterdir())
        shutil.copy(target, outside / target.name)
        target.unlink()
        target.symlink_to(outside / target.name)
    _refused(tmp_path, capsys, good_vault, r"links to .* outside the Vault folder")


def test_a_link_within_the_vault_folder_is_read(tmp_path, good_vault):
    data = next((good_vault / "d").iterdir())
    data.rename(good_vault / "moved")
    data.symlink_to(good_vault / "moved")
    assert import_og_marl_vault(good_vault, SMAC, "medium").n_episodes == 2


@pytest.mark.parametrize("damage", ["truncated data file", "deleted data file", "corrupt manifest"])
def test_damaged_arrays_are_refused(tmp_path, capsys, good_vault, damage):
    files = sorted((good_vault / "d").iterdir(), key=lambda p: -p.stat().st_size)
    if damage == "truncated data file":
        files[0].write_bytes(files[0].read_bytes()[: files[0].stat().st_size // 2])
    elif damage == "deleted data file":
        files[0].unlink()
    else:
        manifest = good_vault / "manifest.ocdbt"
        raw = bytearray(manifest.read_bytes())
        raw[len(raw) // 2:] = bytes(len(raw) - len(raw) // 2)
        manifest.write_bytes(bytes(raw))
    _refused(tmp_path, capsys, good_vault, r"the Vault's arrays cannot be (opened|read)")
