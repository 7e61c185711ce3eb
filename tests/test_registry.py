"""The task registry knows the paper's tasks and refuses unknown names with the valid list."""
import pytest

from tasks.registry import all_tasks, check_quality, get_task


def test_every_task_of_the_paper_is_registered():
    assert len(all_tasks("smacv1")) == 4 and len(all_tasks("smacv2")) == 15 and len(all_tasks("mamujoco")) == 3
    assert {t.name for t in all_tasks("smacv1")} == {"2c_vs_64zg", "5m_vs_6m", "6h_vs_8z", "corridor"}
    assert get_task("Hopper 3x1").name == get_task("mamujoco/Hopper-3x1").name == "Hopper_3x1"
    assert get_task("5m_vs_6m").episode_limit == 70  # SMAC's limit for this map
    assert all(t.approximation for t in all_tasks("smacv1") + all_tasks("smacv2"))


def test_unknown_task_lists_valid_names():
    with pytest.raises(KeyError) as err:
        get_task("3s_vs_5z")
    assert "smacv1/5m_vs_6m" in str(err.value) and "mamujoco/Hopper_3x1" in str(err.value)
    with pytest.raises(ValueError, match="valid: expert"):
        check_quality(get_task("Hopper_3x1"), "good")


def test_smax_dimensions_match_the_simulator():
    from tasks.smax_backend import make_smax_env

    for name in ("5m_vs_6m", "6h_vs_8z", "corridor"):
        task = get_task(name, "smacv1")
        env = make_smax_env(task)
        assert env.observation_space(env.agents[0]).shape == (task.obs_dim,)
        assert env.action_space(env.agents[0]).n == task.action_dim
        assert len(env.agents) == task.n_agents


def test_mamujoco_dimensions_match_the_simulator():
    from tasks.mamujoco_backend import make_mamujoco_env

    for name in ("Hopper_3x1", "Ant_2x4", "HalfCheetah_6x1"):
        task = get_task(name, obs_layout="local")
        env = make_mamujoco_env(task)
        obs, _ = env.reset(seed=0)
        assert len(env.possible_agents) == task.n_agents
        assert max(o.shape[0] for o in obs.values()) == task.obs_dim
        # the default observation is the authors': the full state plus a one-hot agent id
        assert get_task(name).obs_dim == task.state_dim + task.n_agents
        assert env.state().shape == (task.state_dim,)
        assert env.action_space(env.possible_agents[0]).shape == (task.action_dim,)
