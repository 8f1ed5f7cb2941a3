"""The package's import graph has no cycle (counting imports inside functions too), and the
tests import tfreid as the tools do: before TensorFlow."""

import ast
import os
import sys

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tfreid")


def module_name(path: str) -> str:
    relative = os.path.relpath(path, os.path.dirname(PACKAGE))[: -len(".py")]
    parts = relative.split(os.sep)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                modules[module_name(path)] = path
    graph = {}
    for module, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from a.b import c` depends on module a.b.c when there is one, else on a.b.
                names = [
                    f"{node.module}.{a.name}"
                    if f"{node.module}.{a.name}" in modules
                    else node.module
                    for a in node.names
                ]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            targets.update(n for n in names if n in modules)
        graph[module] = targets - {module}
    return graph


def find_cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle():
    graph = import_graph()
    assert "tfreid.config" in graph and "tfreid.methods.softmax" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_config_is_a_leaf():
    """The config reads and writes YAML with helper modules that import nothing of tfreid but
    each other's messages (so loading a config never starts TensorFlow or imports a method)."""
    graph = import_graph()
    assert graph["tfreid.config"] == {"tfreid.typed_yaml", "tfreid.files", "tfreid.errors"}
    assert graph["tfreid.typed_yaml"] == {"tfreid.errors"}
    assert graph["tfreid.files"] == set() and graph["tfreid.errors"] == set()


def test_tfreid_configures_tensorflow_before_tensorflow_starts():
    """TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, when it starts; tfreid sets it at import,
    so tfreid must come first (tests/conftest.py), and the runtime then runs what it says."""
    from tensorflow.python.util import _pywrap_util_port

    loaded = list(sys.modules)  # in the order the imports began
    assert loaded.index("tfreid") < loaded.index("tensorflow"), "TensorFlow started first"
    if _pywrap_util_port.IsX86Available():  # TensorFlow's x86 builds carry oneDNN
        wanted = os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
        assert _pywrap_util_port.IsMklEnabled() == wanted
