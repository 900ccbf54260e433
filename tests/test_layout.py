"""The package's layout: three wings over one ground, no import circles, no arrow that runs back up.

Wings, from the ground up (`RANKS`): `ogm_lib/ground` (the paper's numbers, the published re-runs, the data
catalogue: imports nothing of the project), `ogm_lib/method` (OGM-GE and its training), `ogm_lib/recipe`
(the book's runs), `ogm_lib/report` (runs -> numbers -> claims -> tables), and the entry points at the top
(`ogm_lib/__init__.py`, `__main__.py`, `distributed.py`, `chapters.py`). An import may only go to the same
wing or a lower one; imports inside functions count as much as those at the top of a file (those under `if
TYPE_CHECKING:`,
for annotations only, are never run and do not count).

    python tests/test_layout.py       # prints every module's wing, the arrows that run up, and the circles
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ogm_lib"
RANKS = {"ground": 0, "method": 1, "recipe": 2, "report": 3, "top": 4}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in RANKS) else "top"


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules `module` imports (anywhere in the file), resolved to module names."""
    is_pkg = path.name == "__init__.py"
    here = module.split(".") if is_pkg else module.split(".")[:-1]
    out = set()
    tree = ast.parse(path.read_text())
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and getattr(block.test, "id", getattr(block.test, "attr", None)) == "TYPE_CHECKING"
        for stmt in block.body
        for n in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:  # `if TYPE_CHECKING:` imports are for annotations: never run
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(here[: len(here) - node.level + 1]) if node.level else ""
            mod = ".".join(x for x in (base, node.module or "") if x)
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # `import ogm_lib.method.config as c`, a name of a module, ...
                t = t.rpartition(".")[0]
            if t and t.startswith("ogm_lib") and t != module:
                out.add(t)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    # a package's __init__ is run by every import of one of its modules: an arrow to it is an arrow into
    # its wing, and is left out when it is the importer's own package (or one above it)
    g = {}
    for m, p in mods.items():
        g[m] = {t for t in imports(m, p, known) if not (m.startswith(t + ".") and t in ("ogm_lib",))}
    return g


def back_arrows(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, bs in g.items() for b in bs if RANKS[wing(b)] > RANKS[wing(a)])


def ground_imports(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, bs in g.items() for b in bs if wing(a) == "ground" and wing(b) != "ground")


def circles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in g:
        if v not in index:
            visit(v)
    return out


def test_every_module_is_in_a_wing():
    assert {wing(m) for m in modules()} <= set(RANKS)
    assert {wing(m) for m in modules() if m.count(".") == 1} <= {"top", *RANKS}


def test_the_ground_imports_nothing_of_the_project():
    assert ground_imports(graph()) == []


def test_no_import_runs_back_up():
    assert back_arrows(graph()) == []


def test_no_import_circles():
    assert circles(graph()) == []


def test_the_graph_sees_imports_inside_functions(tmp_path):
    # the reader itself must not be blind: a lazy import in a function is an arrow
    g = graph()
    assert "ogm_lib.method.train" in g["ogm_lib.method"] or any("ogm_lib.method.train" in v for v in g.values())


if __name__ == "__main__":
    g = graph()
    for w in RANKS:
        print(f"{w}: {', '.join(m.removeprefix('ogm_lib.') for m in g if wing(m) == w)}")
    print(f"\n{len(g)} modules, {sum(len(v) for v in g.values())} arrows")
    print("arrows that run back up:", *[f"  {a} -> {b}" for a, b in back_arrows(g)], sep="\n")
    print("ground imports:", *[f"  {a} -> {b}" for a, b in ground_imports(g)], sep="\n")
    print("circles:", *[f"  {' <-> '.join(c)}" for c in circles(g)], sep="\n")
