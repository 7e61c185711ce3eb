"""Behaviour runs resume: a run interrupted after k iterations and rerun ends bit-identical to
an uninterrupted one; a resume file of another configuration is refused and the run restarts."""
import hashlib

import numpy as np
import pytest

from behaviour.d4rl_like.ars import train_ars
from envs.registry import get_task
from envs.resume import resume_path

HOPPER = get_task("mamujoco/Hopper_3x1")
ARGS = dict(iterations=3, directions=2, top=1, seed=3)


class Killed(Exception):
    pass


def _digest(run) -> str:
    """sha256 over the run's content in traversal order: arrays' dtype, shape and bytes, numbers'
    exact values (pickle bytes would also depend on which objects happen to be shared)."""
    h = hashlib.sha256()

    def feed(x):
        if isinstance(x, dict):
            h.update(b"{")
            for k in sorted(x):
                h.update(repr(k).encode())
                feed(x[k])
            h.update(b"}")
        elif isinstance(x, (list, tuple)):
            h.update(b"[")
            for v in x:
                feed(v)
            h.update(b"]")
        elif isinstance(x, np.ndarray):
            h.update(f"{x.dtype}{x.shape}".encode() + np.ascontiguousarray(x).tobytes())
        else:
            h.update(f"{type(x).__name__}:{x!r}".encode())

    feed(run)
    return h.hexdigest()


def _kill_at(iteration, lines):
    def log(line):
        lines.append(line)
        if f"iteration {iteration}:" in line:
            raise Killed(line)
    return log


def test_an_interrupted_ars_run_resumes_bit_identically(tmp_path):
    whole = train_ars(HOPPER, **ARGS, log=lambda s: None)
    resume = resume_path(tmp_path / "run.pkl")
    lines = []
    with pytest.raises(Killed):
        train_ars(HOPPER, **ARGS, log=_kill_at(2, lines), resume_file=resume)
    assert resume.exists()  # written at the start of iteration 2, beside the output
    lines.clear()
    resumed = train_ars(HOPPER, **ARGS, log=lines.append, resume_file=resume)
    assert any("resumed at iteration 2" in line for line in lines), lines
    assert _digest(resumed) == _digest(whole)
    assert not resume.exists()  # finished: the resume state is gone


def test_a_resume_file_of_another_configuration_is_refused(tmp_path):
    resume = resume_path(tmp_path / "run.pkl")
    with pytest.raises(Killed):
        train_ars(HOPPER, **ARGS, log=_kill_at(1, []), resume_file=resume)
    lines = []
    other = {**ARGS, "seed": 4}
    run = train_ars(HOPPER, **other, log=lines.append, resume_file=resume)
    assert any("resume state of a different configuration (differs in seed)" in line for line in lines), lines
    assert _digest(run) == _digest(train_ars(HOPPER, **other, log=lambda s: None))


def test_a_corrupt_resume_file_restarts_the_run(tmp_path):
    resume = resume_path(tmp_path / "run.pkl")
    resume.write_bytes(b"\x80\x04garbage")
    lines = []
    train_ars(HOPPER, iterations=1, directions=1, top=1, log=lines.append, resume_file=resume)
    assert any("unusable resume state" in line and "set aside as" in line for line in lines), lines


# ---------------------------------------------------------------------------------------------
# MAPPO on MaMuJoCo (behaviour.d4rl_like.mappo): the run's state and both simulators' states are
# saved every ``resume_every`` iterations; wall-clock fields (``wall_s``) are the only ones that may
# differ.  (The SMAC-like JAX learner's resume: tests/test_smax_mappo.py.)

def _mappo_digest(run) -> str:
    import torch

    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k != "wall_s"}
        if isinstance(x, (list, tuple)):
            return [strip(v) for v in x]
        if isinstance(x, torch.Tensor):
            return x.detach().cpu().numpy()
        return x
    return _digest(strip(run))


def _mappo_case(kind):
    from behaviour.d4rl_like.mappo import MAPPOConfig
    # the plain MLP, one minibatch, squared value loss, reward scaling: the options the MaMuJoCo defaults leave off
    plain = dict(layer_norm=False, value_norm=False, huber_delta=0.0, std_max=0.0, lr_decay=False,
                 bootstrap_truncation=False, reward_scale=True, clip_each=False, minibatches=1)
    cfg = MAPPOConfig(num_envs=2, rollout_steps=48, eval_episodes=2, epochs=2, hidden=16, **plain)
    # 4 iterations of 96 steps: episodes run across iteration (and so resume) boundaries; "reservoir": a
    # uniform sample of 3 of them (record_episodes=K > 0), else every episode kept
    return HOPPER, dict(env_steps=2 * 48 * 4, cfg=cfg, seed=1, n_checkpoints=5,
                        record_episodes=3 if kind == "reservoir" else -1)


@pytest.mark.parametrize("kind", ["reservoir", "mamujoco"])
def test_an_interrupted_mappo_run_resumes_bit_identically(tmp_path, kind):
    from behaviour.d4rl_like.mappo import train_mappo
    task, kw = _mappo_case(kind)
    whole = train_mappo(task, **kw, log=lambda s: None)
    resume = resume_path(tmp_path / "mappo.pkl")
    with pytest.raises(Killed):  # dies while evaluating iteration 3: the state of iteration 2 is on disk
        train_mappo(task, **kw, log=_kill_at_mappo(3), resume_file=resume, resume_every=1)
    assert resume.exists() and oct(resume.stat().st_mode & 0o777) == oct(_ordinary_mode())
    lines = []
    resumed = train_mappo(task, **kw, log=lines.append, resume_file=resume, resume_every=1)
    assert any("resumed at iteration 2" in line for line in lines), lines
    assert not any("iteration 1," in line for line in lines)  # nothing before the resume point redone
    assert _mappo_digest(resumed) == _mappo_digest(whole)
    assert not resume.exists()


def test_a_mappo_resume_file_of_another_configuration_is_refused(tmp_path):
    import dataclasses

    from behaviour.d4rl_like.mappo import train_mappo
    task, kw = _mappo_case("mamujoco")
    resume = resume_path(tmp_path / "run.pkl")
    with pytest.raises(Killed):
        train_mappo(task, **kw, log=_kill_at_mappo(2), resume_file=resume, resume_every=1)
    other = {**kw, "cfg": dataclasses.replace(kw["cfg"], lr=1e-3)}
    lines = []
    run = train_mappo(task, **other, log=lines.append, resume_file=resume, resume_every=1)
    assert any("resume state of a different configuration (differs in cfg.lr)" in line for line in lines), lines
    assert not any("resumed at" in line for line in lines)
    assert _mappo_digest(run) == _mappo_digest(train_mappo(task, **other, log=lambda s: None))


def _kill_at_mappo(iteration):
    def log(line):
        if f"iteration {iteration}," in line:
            raise Killed(line)
    return log


def _ordinary_mode():
    from envs.files import _ordinary_mode as mode
    return mode()
