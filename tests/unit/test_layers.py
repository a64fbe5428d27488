"""The house's layers, read from the code's own imports: every import points down.

    tooling     the `hub` command and what operators run          (may use all below)
    services    intake, visits, resources, stats, gateway          (each: itself, contracts, hub)
    contracts   event schemas and the shared vocabulary            (itself, hub)
    runtime     services/hub                                       (itself only)

Services find each other only through events (their schemas are in contracts), and the runtime
and the tooling find services only through their manifests (hub/manifest.py). Function-level
imports count as much as module-level ones.
"""
import ast
from pathlib import Path

from hub.manifest import manifests

ROOT = Path(__file__).resolve().parents[2] / "services"
RUNTIME, CONTRACTS, TOOLING = "hub", "contracts", "tooling"


def service_packages():
    return {m.service.split(".")[0] for m in manifests().values()}


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    """module name -> the set of modules (of this tree) it imports."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        name = module_name(path)
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module)
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[name] = imported
    return {name: {m for m in imported if m in found} for name, imported in found.items()}


def allowed(package):
    """The top-level packages a package of `package`'s layer may import."""
    if package == RUNTIME:
        return {RUNTIME}
    if package == CONTRACTS:
        return {RUNTIME, CONTRACTS}
    if package in service_packages():
        return {RUNTIME, CONTRACTS, package}
    if package == TOOLING:
        return {RUNTIME, CONTRACTS, TOOLING}
    raise AssertionError(f"services/{package} is in no layer: add it to this test's layers")


def forbidden_imports():
    return sorted(f"{name} imports {target}" for name, targets in modules().items()
                  for target in targets
                  if target.split(".")[0] not in allowed(name.split(".")[0]))


def test_every_package_is_in_a_layer():
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    assert packages == {RUNTIME, CONTRACTS, TOOLING} | service_packages()


def test_the_runtime_imports_no_service_and_no_service_imports_another():
    assert forbidden_imports() == []


def test_the_rule_catches_an_import_that_points_up():
    assert "intake" not in allowed("hub") and "visits" not in allowed("intake")
    assert "tooling" not in allowed("stats") and "stats" not in allowed("contracts")


def strongly_connected(graph):
    """Tarjan's algorithm: the groups of modules that import each other, round a loop."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def without_packages(graph):
    """The graph without the edges to a package's __init__ that only come from naming a
    submodule (`from hub import db` reads hub/__init__.py, which imports nothing of hub.db)."""
    return {name: {t for t in targets if not name.startswith(t + ".")}
            for name, targets in graph.items()}


def test_there_are_no_import_circles():
    circles = [sorted(g) for g in strongly_connected(without_packages(modules())) if len(g) > 1]
    assert circles == []


def test_the_circle_finder_finds_a_circle():
    assert {frozenset(g) for g in strongly_connected({"a": {"b"}, "b": {"a"}, "c": {"a"}})
            if len(g) > 1} == {frozenset({"a", "b"})}
