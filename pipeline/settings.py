"""The workflow's config as the rules use it: command-line ``--config`` overrides given their
YAML types, and the split of ``train`` settings into what changes a run's results and what
only says how it executes."""
from __future__ import annotations

#: ``train`` keys that say how a run executes, not what it computes: changing them must not
#: rerun a finished run, so they never reach a rule's params.
EXECUTION_KEYS = ("device", "threads", "members")


def apply_cli_overrides(config: dict, cli: dict) -> dict:
    """Give ``--config`` values their YAML types, in place.

    Snakemake parses ``--config train={n_evals: 5}`` (a nested key; Snakemake refuses dotted
    keys such as ``train.n_evals=5``) with YAML's BaseLoader, so nested values arrive as
    strings ("5") and would fail the schema; it has already merged them into ``config``
    (the default config or the ``--configfile`` profile), keeping the other keys of
    ``train``.  Each such leaf is re-read with ``yaml.safe_load`` and written back."""
    import yaml

    def typed(v):
        if isinstance(v, dict):
            return {k: typed(x) for k, x in v.items()}
        if isinstance(v, list):
            return [typed(x) for x in v]
        if isinstance(v, str):
            try:
                return yaml.safe_load(v)
            except yaml.YAMLError:
                return v
        return v

    def put(node: dict, value):
        for k, v in value.items():
            if isinstance(v, dict) and isinstance(node.get(k), dict):
                put(node[k], v)
            else:
                node[k] = typed(v)

    put(config, {k: v for k, v in (cli or {}).items() if isinstance(v, (dict, list))})
    return config


def result_settings(train: dict) -> dict:
    """The ``train`` settings that change a run's results (everything but EXECUTION_KEYS)."""
    return {k: v for k, v in train.items() if k not in EXECUTION_KEYS}


def uses_gpu(config: dict) -> bool:
    """Training jobs ask the scheduler for a GPU unless the config says ``device: cpu``."""
    return not str(config["train"].get("device", "auto")).startswith("cpu")
