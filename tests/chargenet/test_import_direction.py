"""The direction of imports between the parts of ChargeNet (docs/architecture.md, "Parts").

Apps import one way, `rfid ← stations ← billing ← ocpi`; every app may import the foundation
(`chargenet`), the foundation imports no app, and only the composition root (the modules of
`chargenet` that put the apps together) imports them all. Every `import` statement counts, also one
inside a function.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support import REPO

APPS = ("rfid", "stations", "billing", "ocpi", "fleet", "smartcharging")

# What each part may import besides itself and the foundation.
ALLOWED: dict[str, frozenset[str]] = {
    "chargenet": frozenset(),
    "rfid": frozenset(),
    "stations": frozenset({"rfid"}),
    "billing": frozenset({"rfid", "stations"}),
    "ocpi": frozenset({"rfid", "stations", "billing", "smartcharging"}),
    "fleet": frozenset({"rfid", "stations", "billing"}),
    "smartcharging": frozenset({"rfid", "stations", "billing"}),
}

# The composition root: the modules of `chargenet` that know every app.
COMPOSITION_ROOT = frozenset(
    {
        "chargenet.urls",
        "chargenet.routing",
        "chargenet.asgi",
        "chargenet.api.urls",
        "chargenet.demo",
        "chargenet.management.commands.run",
        "chargenet.management.commands.seed_demo",
    }
)


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(source: str, module: str) -> Iterator[str]:
    """Every module an import statement in `source` names, relative imports resolved."""
    package = module.split(".")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level]
                yield ".".join([*base, node.module] if node.module else base)
            elif node.module:
                yield node.module


def wrong_imports(module: str, source: str) -> list[str]:
    """The imports of `module` that break the direction, as 'importer → imported'."""
    part = module.split(".")[0]
    if module in COMPOSITION_ROOT:
        return []
    wrong = []
    for imported in imported_modules(source, module):
        target = imported.split(".")[0]
        if target in APPS and target != part and target not in ALLOWED[part]:
            wrong.append(f"{module} → {imported}")
        if any(imported == root or imported.startswith(root + ".") for root in COMPOSITION_ROOT):
            wrong.append(f"{module} → {imported} (the composition root)")
    return wrong


def project_modules() -> Iterator[tuple[str, str]]:
    for part in ALLOWED:
        for path in sorted((REPO / part).rglob("*.py")):
            yield module_name(path), path.read_text()


def test_every_import_points_the_one_way_rfid_stations_billing_ocpi_and_the_foundation_imports_no_app():
    wrong = [line for module, source in project_modules() for line in wrong_imports(module, source)]

    assert wrong == []


def test_the_check_finds_an_app_imported_against_the_direction():
    # given an rfid module that reaches up into stations, and a foundation module that imports an app
    rfid_source = "def f():\n    from stations.models import Station\n"
    foundation_source = "from billing.services import BillingError\n"

    # then both are named
    assert wrong_imports("rfid.services", rfid_source) == ["rfid.services → stations.models"]
    assert wrong_imports("chargenet.api.exceptions", foundation_source) == [
        "chargenet.api.exceptions → billing.services"
    ]


def test_the_check_lets_an_app_import_what_lies_below_it_and_the_composition_root_import_every_app():
    assert wrong_imports("billing.services", "from stations.models import Session\nimport rfid\n") == []
    assert wrong_imports("chargenet.urls", "from ocpi import urls\nfrom billing import api\n") == []


def test_no_app_imports_the_composition_root():
    assert wrong_imports("stations.simulator.demo", "from chargenet.demo import demo_seed\n") == [
        "stations.simulator.demo → chargenet.demo (the composition root)"
    ]
