"""A config file read strictly, and its values' types against the schema (run before the schema
validation, whose messages do not say why):

- ``load_yaml_strict``: a config file read with duplicate keys refused (PyYAML keeps the last
  one silently) and syntax errors naming file, line and column.
- ``type_problems``: every value the schema types as a number is a number and every integer an
  integer (JSON schema accepts ``20.0`` as an integer; the job then crashes); a string where a
  number belongs is explained (PyYAML reads ``1e-3``, an exponent without a decimal point, as a
  string).
"""
from __future__ import annotations

import math
from pathlib import Path

import yaml

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigFileError(ValueError):
    """A config file that cannot be read as a config: names the file and line."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping."""


def _mapping_without_duplicates(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(None, None, f"unhashable key {key!r}", key_node.start_mark)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def load_yaml_strict(path) -> dict:
    """Read one config file; ``ConfigFileError`` naming file and line for a syntax error or a
    duplicated key, and for a file that is not a mapping at its top."""
    path = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.load(f, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else path
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        raise ConfigFileError(f"{where}: {what}") from None
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{path}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: the config must be a mapping of keys (profile, suites, ...), "
                              f"found a {type(data).__name__}")
    return data


def check_config_files(paths) -> None:
    """Re-read every given config file strictly (Snakemake's own loader keeps the last of two
    equal keys); raises ``ConfigFileError`` listing every problem."""
    problems = []
    for path in paths:
        try:
            load_yaml_strict(path)
        except ConfigFileError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigFileError("invalid config file:\n  - " + "\n  - ".join(problems))


# -- types ---------------------------------------------------------------------------------------

def number_hint(value) -> str:
    """Why a string stands where a number belongs, when it reads as one (else "")."""
    from algorithms.base import yaml_number_hint

    return yaml_number_hint(value)


def _describe(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def _resolve(schema: dict, root: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _scalar_type_problem(value, types: list, name: str):
    """What is wrong with ``value`` where the schema wants an integer or a number (None: nothing)."""
    if "integer" in types and "number" not in types:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                return f"{name}: {value!r} must be an integer: write {int(value)}"
            return f"{name}: {_describe(value)} must be an integer{number_hint(value)}"
    elif "number" in types:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{name}: {_describe(value)} must be a number{number_hint(value)}"
        if not math.isfinite(value):
            return f"{name}: {value!r} must be a finite number"
    return None


def _nested_type_problems(value, schema: dict, where: str, name: str, root: dict) -> list:
    """``type_problems`` of a mapping's values and a list's items."""
    out = []
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            child = f"{where}.{key}" if where else str(key)
            if key in props:
                out += type_problems(sub, props[key], child, root)
            elif isinstance(extra, dict):
                out += type_problems(sub, extra, child, root)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, sub in enumerate(value):
            out += type_problems(sub, schema["items"], f"{name}[{i}]", root)
    return out


def type_problems(value, schema: dict, where: str = "", root: dict = None) -> list:
    """Numbers and integers where the schema wants them (see the module doc); the rest of the
    schema is left to the schema validation."""
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    if not isinstance(schema, dict):
        return []
    if "oneOf" in schema or "anyOf" in schema:
        options = schema.get("oneOf") or schema.get("anyOf")
        results = [type_problems(value, option, where, root) for option in options]
        fitting = [r for r, option in zip(results, options, strict=False) if _type_fits(value, _resolve(option, root))]
        return [] if any(not r for r in results) else (fitting[0] if fitting else results[0])
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    name = where or "the config"
    if value is None and "null" in types:
        return []
    problem = _scalar_type_problem(value, types, name)
    if problem:
        return [problem]
    return _nested_type_problems(value, schema, where, name, root)


def _type_fits(value, schema: dict) -> bool:
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if not types:
        return True
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool}
    for t in types:
        if t in kinds and isinstance(value, kinds[t]):
            return True
        if t in ("number", "integer") and isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return True
        if t == "null" and value is None:
            return True
    return False


def load_schema() -> dict:
    with open(SCHEMA, encoding="utf-8") as f:
        return yaml.safe_load(f)


def check_config_types(config: dict) -> None:
    """``type_problems`` against the config schema, as one ``ValueError`` (run it before the
    schema validation, whose message for ``'1e-3'`` does not say why)."""
    problems = type_problems(config, load_schema())
    if problems:
        raise ValueError("invalid config:\n  - " + "\n  - ".join(problems))
