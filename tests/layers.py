"""The project's import graph, read from the source with `ast`: package edges, module cycles, long functions,
and the layering every import must follow (`ALLOWED`, checked by tests/test_layers.py).

    python -m tests.layers            package -> package edges, imports against the layers, import cycles
                                      between modules, longest functions

Every import counts, a function's lazy import and one under TYPE_CHECKING too: it ties the modules together
all the same.
"""

import ast
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sql", "sensors", "runtime", "ingest", "alerting", "service")
# The layers, bottom up: what each package may import besides itself. ingest and alerting stand side by side
# on runtime and never import each other; service, on top, may import everything below it.
ALLOWED = {
    "sql": set(),
    "sensors": {"sql"},
    "runtime": {"sql", "sensors"},
    "ingest": {"sql", "sensors", "runtime"},
    "alerting": {"sql", "sensors", "runtime"},
    "service": {"sql", "sensors", "runtime", "ingest", "alerting"},
}


def modules() -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module of the project's packages."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def imported(name: str, path: Path) -> set[str]:
    """The project modules `name` imports (a `from package import module` names the module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package upwards
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (names that are not modules, such as functions, dropped)."""
    known = dict(modules())
    edges = {}
    for name, path in known.items():
        edges[name] = {m for m in imported(name, path) if m in known and m != name}
    return edges


def package_of(module: str) -> str:
    return module.split(".")[0]


def package_edges(edges: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    """(importing package, imported package) -> the module imports that make the edge."""
    found = defaultdict(list)
    for source, targets in edges.items():
        for target in targets:
            if package_of(source) != package_of(target):
                found[(package_of(source), package_of(target))].append(f"{source} -> {target}")
    return dict(found)


def against_layers(edges: dict[str, set[str]]) -> list[str]:
    """The module imports that break `ALLOWED`, as "importer -> imported"."""
    return sorted(f"{source} -> {target}" for source, targets in edges.items() for target in targets
                  if package_of(target) != package_of(source) and package_of(target) not in ALLOWED[package_of(source)])


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def longest_functions(count: int = 10) -> list[tuple[int, str]]:
    """(lines, module:function) of the longest functions and methods."""
    found = []
    for name, path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((node.end_lineno - node.lineno + 1, f"{name}:{node.name}"))
    return sorted(found, reverse=True)[:count]


def main() -> None:
    edges = graph()
    print("package -> package (module imports making the edge)")
    for (source, target), uses in sorted(package_edges(edges).items()):
        print(f"  {source} -> {target}: {len(uses)}")
    wrong = against_layers(edges)
    print(f"imports against the layers: {len(wrong)}")
    for use in wrong:
        print(f"  {use}")
    found = cycles(edges)
    print(f"import cycles between modules: {len(found)}")
    for component in found:
        print(f"  {len(component)} modules: {', '.join(component)}")
    print("longest functions (lines)")
    for lines, where in longest_functions():
        print(f"  {lines:4d} {where}")


if __name__ == "__main__":
    sys.exit(main())
