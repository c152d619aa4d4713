"""Imports run one way, ``data_utils`` <- ``lrhnet`` <- ``liteheart`` <- (``kdpipeline``, ``train.py``,
``benchmarks``), and no module reaches itself through its imports.

Every ``import`` statement of the source counts, also those inside functions. Read from the
files (``ast``), not from ``sys.modules``, so the test sees imports that a run may not reach.
"""

import ast
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PACKAGES = ("data_utils", "lrhnet", "liteheart", "kdpipeline", "benchmarks")
# benchmarks reuse train.py's pipeline (to score its runs on the records it trained on), never the reverse
LAYER = {"data_utils": 0, "lrhnet": 1, "liteheart": 2, "kdpipeline": 3, "benchmarks": 4, "train": 4}


def our_modules():
    """``{module name: path}`` of every module of the packages, plus ``train``."""
    modules = {"train": os.path.join(ROOT, "train.py")}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    parts = os.path.relpath(path, ROOT)[: -len(".py")].split(os.sep)
                    modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports(path, modules):
    """The modules of ours that the file at ``path`` imports (``from a import b`` of a submodule counts as ``a.b``).

    A lazy package (``lrhnet/__init__.py``) names its modules in ``_SOURCES``; those count too.
    Raises ``AssertionError`` for a relative import, which this check would not resolve.
    """
    found = set()
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, f"{path}: relative import at line {node.lineno}"
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
        elif isinstance(node, ast.Assign) and [getattr(target, "id", None) for target in node.targets] == ["_SOURCES"]:
            found |= {value.value for value in node.value.values}
    return {name for name in found if name in modules}


def graph():
    modules = our_modules()
    return {name: imports(path, modules) for name, path in modules.items()}


def test_the_graph_is_the_whole_project():
    edges = graph()
    assert len(edges) > 50 and {
        "data_utils.readers.base",
        "lrhnet.saving",
        "liteheart.student",
        "kdpipeline.runner",
        "train",
    } <= set(edges)
    assert "lrhnet.layers" in edges["liteheart.student"] and "lrhnet.distiller" in edges["lrhnet"]


def test_imports_point_from_extensions_to_foundations():
    wrong = [
        (module, target)
        for module, targets in graph().items()
        for target in targets
        if LAYER[target.split(".")[0]] > LAYER[module.split(".")[0]]
        or (target.split(".")[0] != module.split(".")[0] and LAYER[target.split(".")[0]] == LAYER[module.split(".")[0]])
    ]
    assert wrong == [], (
        "imports against the layering data_utils <- lrhnet <- liteheart <- kdpipeline <- benchmarks, train"
    )


def test_no_import_circles():
    edges = graph()
    circles, state = [], {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(edges[module]):
            if state.get(target) == "open":
                circles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_the_layering_check_sees_a_wrong_arrow(tmp_path):
    """The checker itself: a file importing upwards is caught (so the tests above can fail)."""
    modules = {"lrhnet.bad": str(tmp_path / "bad.py"), "liteheart": "", "liteheart.student": ""}
    (tmp_path / "bad.py").write_text("def f():\n    from liteheart.student import LiteHeartStudent\n")
    assert imports(modules["lrhnet.bad"], modules) == {"liteheart.student"}
