"""What pyproject.toml declares matches what the code imports: every dependency is used, every import of
t4o is declared, each extra serves the one part that needs it, and constraints.txt pins all of them."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import t4o

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# Database drivers are loaded by SQLAlchemy from the URL's scheme, never imported by name.
URL_SCHEMES = {"mysqlclient": "mysql+mysqldb://", "psycopg2-binary": "postgresql+psycopg2://"}
# Programs that load t4o through an entry-point group rather than being imported by it.
HOSTS = {"python-openstackclient": "openstack.cli.extension"}


def canonical(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[ <>=!~;\[]", requirement, maxsplit=1)[0]).lower()


def declared(extra: str | None = None) -> set[str]:
    reqs = PROJECT["dependencies"] if extra is None else PROJECT["optional-dependencies"][extra]
    return {canonical(r) for r in reqs}


@cache
def third_party_imports() -> dict[str, set[str]]:
    """Top-level modules imported under t4o/ that are neither stdlib nor t4o -> files importing them."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "t4o").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "t4o":
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def distributions(module: str) -> set[str]:
    return {canonical(d) for d in packages_distributions().get(module, [])}


def test_version_is_set() -> None:
    assert t4o.__version__.count(".") == 2


def test_every_dependency_is_imported_by_t4o() -> None:
    used = {d for module in third_party_imports() for d in distributions(module)}
    sources = "".join(p.read_text() for p in (ROOT / "t4o").rglob("*.py"))
    for dist in declared() | declared("datamover") | declared("cli"):
        if dist in URL_SCHEMES:
            assert URL_SCHEMES[dist] in sources, f"{dist} is declared but no URL names it"
        elif dist in HOSTS:
            assert HOSTS[dist] in PROJECT["entry-points"], f"{dist} is declared but t4o is no plugin of it"
        else:
            assert dist in used, f"{dist} is declared but nothing in t4o imports it"


def test_every_import_of_t4o_is_declared() -> None:
    everything = declared() | declared("datamover") | declared("cli")
    for module, files in third_party_imports().items():
        assert distributions(module) & everything, f"{module} (imported by {sorted(files)}) is not declared"


def test_extras_hold_what_only_one_part_needs() -> None:
    assert declared("datamover") == {"libvirt-python"}
    assert {"python-openstackclient", "osc-lib", "cliff"} <= declared("cli")
    assert not (declared("datamover") | declared("cli")) & declared()
    owners = {
        "libvirt": ("t4o/datamover/", "t4o/cmd/datamover"),
        "osc_lib": ("t4o/cli/",),
        "cliff": ("t4o/cli/",),
    }
    for module, allowed in owners.items():
        for path in third_party_imports().get(module, ()):
            assert path.startswith(allowed), f"{path} imports {module}, which only an extra installs"


def test_one_mysql_driver() -> None:
    drivers = {"mysqlclient", "pymysql", "mysql-connector-python"} & declared()
    assert drivers == {"mysqlclient"}


def test_constraints_pin_every_dependency() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonical(name)] = version
    for extra in (None, *PROJECT["optional-dependencies"]):
        for dist in declared(extra):
            assert pins.get(dist), f"{dist} has no exact pin in constraints.txt"
