"""The packages depend one way (README, "Architecture"): each imports only packages below it.

Read from the sources (every ``import`` statement, at the top of a module or inside a
function), so a lazy import that climbs a layer fails here as surely as a top-level one."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: bottom to top; a package may import itself and the packages before it
LAYERS = ("envs", "algorithms", "behaviour", "harness", "pipeline", "analysis")
#: exceptions to the layering (none: the behaviour learners' PyTorch networks are their own)
ALLOWED = set()


def _imported_packages(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_only_the_layers_below_it(package):
    allowed_pkgs = set(LAYERS[:LAYERS.index(package) + 1])
    ours = set(LAYERS) | {"workflow", "benchmarks", "tests"}
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in _imported_packages(path):
            top = module.split(".")[0]
            if top not in ours or top in allowed_pkgs:
                continue
            if any(package == p and (module == m or module.startswith(m + ".")) for p, m in ALLOWED):
                continue
            wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "imports that climb a layer:\n" + "\n".join(wrong)


def test_behaviour_learners_import_nothing_of_the_offline_learners():
    """behaviour/ (PyTorch and JAX MAPPO, ARS) has its own networks: no learner, registry or block."""
    for path in sorted((ROOT / "behaviour").rglob("*.py")):
        for module in _imported_packages(path):
            assert module.split(".")[0] != "algorithms", f"{path.relative_to(ROOT)} imports {module}"


def test_the_learner_base_knows_no_learner():
    """The registry is algorithms/__init__.py; base.py imports none of the learners it lists."""
    learners = {p.stem for p in (ROOT / "algorithms").glob("*.py")} - {"__init__", "base", "networks", "fdiv"}
    imported = {m.split(".")[-1] for m in _imported_packages(ROOT / "algorithms" / "base.py")
                if m.startswith("algorithms")}
    assert not imported & learners


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_two_modules_import_each_other_in_a_cycle():
    """Within and across packages, the module import graph (top-level and lazy imports alike)
    has no cycle: each module can be read knowing only what it imports."""
    modules = {_module_name(p): p for pkg in LAYERS for p in (ROOT / pkg).rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        deps = set()
        for imported in _imported_packages(path):
            # "from pipeline.grid import x" and "import pipeline.grid" name the module itself;
            # "from analysis import grid" names the package, whose __init__ is then the edge
            target = imported if imported in modules else None
            if target and target != name:
                deps.add(target)
        graph[name] = deps
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                cycles.append(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
