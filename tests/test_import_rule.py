"""The one-way import rule (docs/ARCHITECTURE.md), read from every module's source.

drivers/, simulators/ and contracts/ import nothing else of ours; agent/ imports drivers and
contracts; central/ imports contracts only; roomops/ (the composition root) anything. An import
is any ``import``/``from ... import`` (also under ``if TYPE_CHECKING:`` or inside a function,
relative ones resolved) and any ``"package.module:Class"`` string a registry imports lazily.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("drivers", "simulators", "contracts", "agent", "central", "roomops")

#: package -> our packages it may import (besides itself)
ALLOWED: dict[str, frozenset[str]] = {
    "drivers": frozenset(),
    "simulators": frozenset(),
    "contracts": frozenset(),
    "agent": frozenset({"drivers", "contracts"}),
    "central": frozenset({"contracts"}),
    "roomops": frozenset(OURS),
}

_LAZY_TARGET = re.compile(rf"^({'|'.join(OURS)})(\.\w+)*(:\w+)?$")


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    importer: str
    imported: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} must not import {self.imported}"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imported_names(source: str, module: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, dotted name) of everything ``source`` imports, including lazy registry strings."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append((node.lineno, _resolve_relative(module, is_package, node.level, node.module)))
            elif node.module:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((node.lineno, arg.value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and ":" in node.value:
            if _LAZY_TARGET.match(node.value):
                found.append((node.lineno, node.value.partition(":")[0]))
    return found


def _is_dynamic_import(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in ("import_module", "__import__")


def violations_in(source: str, module: str, path: str = "<source>", *,
                  is_package: bool = False) -> list[Violation]:
    package = module.split(".")[0]
    allowed = ALLOWED.get(package)
    if allowed is None:
        return []  # tests, scripts: not bound by the rule
    out = []
    for line, name in imported_names(source, module, is_package=is_package):
        target = name.split(".")[0]
        if target in OURS and target != package and target not in allowed:
            out.append(Violation(path, line, package, target))
    return out


def scan(root: Path) -> tuple[list[Violation], int]:
    """Every violation under ``root``, and how many modules were read."""
    found: list[Violation] = []
    count = 0
    for package in OURS:
        for path in sorted((root / package).rglob("*.py")):
            count += 1
            found += violations_in(path.read_text(encoding="utf-8"), _module_name(path, root),
                                   str(path.relative_to(root)), is_package=path.name == "__init__.py")
    return found, count


def test_the_code_base_keeps_the_import_rule() -> None:
    found, count = scan(ROOT)
    assert count > 10, "the scan found no modules: wrong root?"
    assert not found, "forbidden imports:\n" + "\n".join(map(str, found))


FORBIDDEN = [
    ("drivers.pjlink", "from agent.session import DeviceSession\n", "agent"),
    ("drivers.pjlink", "import central.app\n", "central"),
    ("drivers.pjlink", "from simulators.harness import DeviceSimulator\n", "simulators"),
    ("drivers.pjlink", "from contracts.messages import Hello\n", "contracts"),
    ("simulators.pjlink", "from drivers.pjlink import PJLinkDisplayDriver\n", "drivers"),
    ("simulators.pjlink", "import agent\n", "agent"),
    ("simulators.pjlink", "from central import models\n", "central"),
    ("central.api", "from agent.link import AgentLink\n", "agent"),
    ("central.api", "from drivers.errors import DeviceError\n", "drivers"),
    ("central.api", "import simulators.harness\n", "simulators"),
    ("contracts.messages", "from drivers.roles import Health\n", "drivers"),
    ("contracts.messages", "import central\n", "central"),
    ("agent.session", "from central.db import Session\n", "central"),
    ("agent.session", "from simulators.echo import EchoSimulator\n", "simulators"),
    # the sneaky forms
    ("drivers.pjlink", "import typing\nif typing.TYPE_CHECKING:\n    from agent import x\n", "agent"),
    ("drivers.pjlink", "def f():\n    import central.app\n", "central"),
    ("drivers.pjlink", "import importlib\nimportlib.import_module('agent.session')\n", "agent"),
    ("drivers.registry", "DRIVERS = {'x': 'simulators.echo:EchoSimulator'}\n", "simulators"),
    ("central.api.routes", "from ...agent import link\n", "agent"),
]


@pytest.mark.parametrize(("module", "source", "target"), FORBIDDEN)
def test_a_forbidden_import_is_reported(module: str, source: str, target: str) -> None:
    (violation,) = violations_in(source, module)
    assert violation.imported == target
    assert violation.importer == module.split(".")[0]


ALLOWED_EXAMPLES = [
    ("agent.session", "from drivers.registry import driver_class\nfrom contracts import messages\n"),
    ("central.api", "from contracts.messages import Hello\nimport fastapi\n"),
    ("roomops.cli", "from agent import main\nfrom central import app\nimport simulators.echo\n"),
    ("drivers.pjlink", "from drivers.transports import TcpTransport\nfrom . import errors\n"),
    ("simulators.pjlink", "from .harness import DeviceSimulator\nimport serial\n"),
    ("drivers.registry", "DRIVERS = {'pjlink': 'drivers.pjlink:PJLinkDisplayDriver'}\nURL = 'http://x:80'\n"),
]


@pytest.mark.parametrize(("module", "source"), ALLOWED_EXAMPLES)
def test_allowed_imports_pass(module: str, source: str) -> None:
    assert violations_in(source, module) == []


def test_scan_fails_on_a_synthetic_tree_with_a_forbidden_import(tmp_path: Path) -> None:
    for package in OURS:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "drivers" / "fine.py").write_text("from drivers.errors import DeviceError\n")
    (tmp_path / "drivers" / "sub").mkdir()
    (tmp_path / "drivers" / "sub" / "__init__.py").write_text("")
    (tmp_path / "drivers" / "sub" / "bad.py").write_text("import os\n\nfrom agent.session import x\n")
    found, count = scan(tmp_path)
    assert count == len(OURS) + 3
    assert [str(v) for v in found] == ["drivers/sub/bad.py:3: drivers must not import agent"]


# -- layers inside central -------------------------------------------------------------------------
#: central module (prefix) -> central modules it must not import: the layers point one way,
#: models < notify < services < context < hub < api/web/reports < routers < app
CENTRAL_LAYERS: dict[str, tuple[str, ...]] = {
    "central.models": ("central.notify", "central.services", "central.context", "central.hub", "central.api",
                       "central.web", "central.reports", "central.app", "central.routers"),
    "central.notify": ("central.services", "central.context", "central.hub", "central.api", "central.web",
                       "central.reports", "central.app", "central.routers"),
    "central.services": ("central.context", "central.hub", "central.api", "central.web", "central.app",
                         "central.routers"),
    "central.context": ("central.hub", "central.api", "central.web", "central.reports", "central.app",
                        "central.routers"),
    "central.hub": ("central.api", "central.web", "central.reports", "central.app", "central.routers",
                    "central.context"),
}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_violations(source: str, module: str, path: str = "<source>", *,
                     is_package: bool = False) -> list[Violation]:
    out = []
    for layer, forbidden in CENTRAL_LAYERS.items():
        if not _within(module, layer):
            continue
        for line, name in imported_names(source, module, is_package=is_package):
            hit = next((f for f in forbidden if _within(name, f)), None)
            if hit is not None:
                out.append(Violation(path, line, layer, hit))
    return out


def test_central_layers_point_one_way() -> None:
    found = []
    for path in sorted((ROOT / "central").rglob("*.py")):
        found += layer_violations(path.read_text(encoding="utf-8"), _module_name(path, ROOT),
                                  str(path.relative_to(ROOT)), is_package=path.name == "__init__.py")
    assert not found, "imports against central's layers:\n" + "\n".join(map(str, found))


@pytest.mark.parametrize(("module", "source", "target"), [
    ("central.context", "from central.hub.hub import AgentHub\n", "central.hub"),
    ("central.context", "import typing\nif typing.TYPE_CHECKING:\n    from central.hub import hub\n",
     "central.hub"),
    ("central.hub.connection", "from central.context import AppContext\n", "central.context"),
    ("central.services.meetings", "from central.context import AppContext\n", "central.context"),
    ("central.models.sites", "from central.services import wake\n", "central.services"),
    ("central.notify.unit", "from central.hub.hub import AgentHub\n", "central.hub"),
])
def test_a_backward_import_inside_central_is_reported(module: str, source: str, target: str) -> None:
    (violation,) = layer_violations(source, module)
    assert violation.imported == target


def test_the_composition_root_may_import_every_layer() -> None:
    source = "from central.hub.hub import AgentHub\nfrom central.context import AppContext\n"
    assert layer_violations(source, "central.app") == []
