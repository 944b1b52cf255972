"""The package layers of t4o, read from the source with ast (function-local imports included).

Every module belongs to a unit ``t4o.X`` (a subpackage, or a top-level module). A unit imports only
units of a lower layer of its own chain; units of one layer do not import each other:

    common < db < vault, openstack < datamover, policies, filerecovery < workloads
        < api, cron, scheduler < cmd
    client < cli   (the CLI/SDK side imports no server package)

No t4o import hides inside a function (such imports are how cycles get dodged); ``import t4o`` itself
(the version) is allowed everywhere.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Lowest layer first, one tuple per chain.
SERVER_LAYERS: tuple[tuple[str, ...], ...] = (
    ("common",),
    ("db",),
    ("vault", "openstack"),
    ("datamover", "policies", "filerecovery"),
    ("workloads",),
    ("api", "cron", "scheduler"),
    ("cmd",),
)
CLIENT_LAYERS: tuple[tuple[str, ...], ...] = (("client",), ("cli",))

ROOT = Path(__file__).resolve().parents[2] / "t4o"


def _rank() -> dict[str, tuple[str, int]]:
    rank = {}
    for chain, layers in (("server", SERVER_LAYERS), ("client", CLIENT_LAYERS)):
        for level, units in enumerate(layers):
            for unit in units:
                rank[unit] = (chain, level)
    return rank


RANK = _rank()


@dataclass(frozen=True)
class Import:
    where: str  # path:line
    source: str  # the importing unit
    target: str  # the imported unit ("" for the root package t4o)
    local: bool  # inside a function body


def _unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The t4o modules one import statement names (relative imports resolved)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name == "t4o" or a.name.startswith("t4o.")]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
    if base != "t4o" and not base.startswith("t4o."):
        return []
    if base == "t4o":  # from t4o import vault: the names are the units
        return [
            f"t4o.{a.name}" if (ROOT / a.name).exists() or (ROOT / f"{a.name}.py").exists() else "t4o"
            for a in node.names
        ]
    return [base]


def _imports_of(path: Path) -> Iterator[Import]:
    module = _module_name(path)
    source = _unit_of(module)
    tree = ast.parse(path.read_text(), filename=str(path))
    local: set[int] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            local.update(id(n) for n in ast.walk(fn) if isinstance(n, ast.Import | ast.ImportFrom))
    where_base = path.relative_to(ROOT.parent).as_posix()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in _targets(node, module, path.name == "__init__.py"):
                yield Import(f"{where_base}:{node.lineno}", source, _unit_of(target), id(node) in local)


def _all_imports() -> list[Import]:
    return [imp for path in sorted(ROOT.rglob("*.py")) for imp in _imports_of(path)]


IMPORTS = _all_imports()


def _units() -> set[str]:
    units = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    units |= {p.stem for p in ROOT.glob("*.py") if p.name != "__init__.py"}
    return units


def _allowed(source: str, target: str) -> bool:
    if target in ("", source):
        return True
    if source not in RANK or target not in RANK:
        return False
    (src_chain, src_level), (dst_chain, dst_level) = RANK[source], RANK[target]
    return src_chain == dst_chain and dst_level < src_level


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("db", "common", True),
        ("common", "db", False),
        ("vault", "openstack", False),  # one layer
        ("cmd", "datamover", True),
        ("cli", "client", True),
        ("client", "common", False),  # the CLI/SDK side imports no server package
        ("demo", "common", False),  # a unit without a layer
        ("workloads", "", True),  # import t4o (the version)
    ],
)
def test_layer_rule(source: str, target: str, allowed: bool) -> None:
    assert _allowed(source, target) is allowed


def test_the_scan_sees_the_imports() -> None:
    # Guards the other tests against passing on an empty scan.
    assert len({imp.where.split(":")[0] for imp in IMPORTS}) > 50
    assert any(imp.source == "cmd" and imp.target == "common" for imp in IMPORTS)


def test_every_package_has_a_layer() -> None:
    assert sorted(_units() - set(RANK)) == []


def test_imports_go_down_the_layers_only() -> None:
    wrong = [
        f"{i.where}: t4o.{i.source} -> t4o.{i.target}" for i in IMPORTS if not _allowed(i.source, i.target)
    ]
    assert wrong == [], "imports against the layer order:\n" + "\n".join(wrong)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize(
    ("edges", "expected"),
    [({"a": {"b"}, "b": {"c"}}, []), ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]])],
)
def test_cycle_finder(edges: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert _cycles(edges) == expected


def test_no_package_cycle() -> None:
    edges: dict[str, set[str]] = {}
    for imp in IMPORTS:
        if imp.target and imp.target != imp.source:
            edges.setdefault(imp.source, set()).add(imp.target)
    assert _cycles(edges) == []


def test_no_t4o_import_inside_a_function() -> None:
    local = [f"{i.where}: t4o.{i.target or ''}" for i in IMPORTS if i.local]
    assert local == [], "move these imports to the top of their module:\n" + "\n".join(local)
