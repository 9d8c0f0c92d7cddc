"""The import layering of docs/architecture.md: inference, evaluation and the app never load the training stack."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def python_prints(code: str) -> str:
    """What ``code`` prints in a fresh interpreter started in the checkout."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          check=True).stdout.strip()


def test_inference_evaluation_and_app_import_without_training():
    assert python_prints("import sys, i2i.evaluation, i2i.experiments.ablate, i2i.app, i2i.app.ui, i2i.inference, "
                         "i2i.rundir; print(sorted(m for m in sys.modules if m.startswith('i2i.training')))") == "[]"


def test_rundir_and_config_do_not_import_the_networks():
    assert python_prints("import sys, i2i.rundir, i2i.config; "
                         "print(sorted(m for m in sys.modules if m.startswith('i2i.models')))") == "[]"


# docs/architecture.md's layers, lowest first: a module imports (at module level or inside a function) only modules
# of its own layer or a lower one, and module-level imports form no circle.
LAYERS = (
    ("i2i", "i2i.rundir", "i2i.config", "i2i.device", "i2i.threads", "i2i.colour", "i2i.losses", "i2i.clustering",
     "i2i.media", "i2i.plots", "i2i.faces", "i2i.weights", "i2i.pretrained", "i2i.data", "i2i.models"),
    ("i2i.kinds",),
    ("i2i.hub",),
    ("i2i.export",),
    ("i2i.backends",),
    ("i2i.inference", "i2i.style_space"),
    ("i2i.evaluation",),
    ("i2i.training",),
    ("i2i.convert", "i2i.experiments"),
    ("i2i.app",),
    ("i2i.cli", "i2i.__main__"),
)
SOURCES = {"i2i": ROOT / "i2i", "i2i.app": ROOT / "app", "i2i.evaluation": ROOT / "evaluation"}


def _modules() -> dict[str, Path]:
    mods = {}
    for package, folder in SOURCES.items():
        for f in folder.rglob("*.py"):
            parts = [p for p in f.relative_to(folder).with_suffix("").parts if p != "__init__"]
            mods[".".join([package, *parts])] = f
    return mods


def _layer(module: str) -> int:
    best, index = -1, None
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, index = len(prefix), i
    assert index is not None, f"{module} is in no layer of docs/architecture.md"
    return index


def _imports(path: Path, mods: dict[str, Path], top_level: bool) -> set[str]:
    import ast

    tree = ast.parse(path.read_text())
    found = set()
    for node in (tree.body if top_level else ast.walk(tree)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "i2i":
            subs = {f"{node.module}.{a.name}" for a in node.names} & mods.keys()
            found |= subs if subs else {node.module}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "i2i"}
    return found & mods.keys()


def test_every_import_points_down_the_layers():
    mods = _modules()
    upward = [f"{m} -> {i}" for m, path in mods.items() for i in _imports(path, mods, top_level=False)
              if _layer(i) > _layer(m)]
    assert upward == []


def test_module_level_imports_have_no_circle():
    mods = _modules()
    graph = {m: _imports(path, mods, top_level=True) - {m} for m, path in mods.items()}
    graph = {m: {i for i in deps if not m.startswith(i + ".")} for m, deps in graph.items()}  # a package's own init
    state, circles = {}, []

    def visit(m, stack):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                circles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, stack)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    assert circles == []


def test_only_the_documented_packages_import_under_i2i():
    assert python_prints("import importlib\nfor name in ('i2i.tests', 'i2i.benchmarks', 'i2i.configs', 'i2i.i2i'):\n"
                         "    try:\n        importlib.import_module(name)\n        print(name)\n"
                         "    except ImportError:\n        pass") == ""


def test_only_the_kind_registry_and_the_config_ask_which_kind():
    import re

    from i2i.config import ModelConfig
    from i2i.kinds import KINDS

    assert set(KINDS) == set(ModelConfig.__dataclass_fields__["kind"].metadata["choices"])
    asks = re.compile(r"kind ==|\.kind in|getattr\(.*kind|kind !=")
    allowed = {ROOT / "i2i" / "config.py", *(ROOT / "i2i" / "kinds").glob("*.py")}
    found = [f"{path.relative_to(ROOT)}:{n}" for path in _modules().values() if path not in allowed
             for n, line in enumerate(path.read_text().splitlines(), 1) if asks.search(line)]
    assert found == []
