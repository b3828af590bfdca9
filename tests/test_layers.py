"""The packages' import rules of docs/architecture.md: a package imports only those
below it, and core imports no package of the project."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = {
    "config",
    "core",
    "accounts",
    "events",
    "bookings",
    "statuses",
    "appointments",
    "webhooks",
    "reports",
    "business_settings",
    "scheduler",
}
MAY_IMPORT = {
    "core": set(),
    "accounts": {"core"},
    "events": {"accounts", "core"},
    "bookings": {"accounts", "core", "events"},
    "statuses": {"accounts", "core", "events"},
    "appointments": {"statuses", "accounts", "core", "events"},
    "webhooks": {"accounts", "core", "events"},
    "reports": {"bookings", "appointments", "statuses", "accounts", "core"},
    "business_settings": {"events", "accounts", "core"},
    "scheduler": {"bookings", "appointments", "statuses", "events", "accounts", "core"},
}


def imported_packages(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found.update(name.split(".")[0] for name in names)
    return (found & PROJECT_PACKAGES) - {package}


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_the_layers_below_it(package):
    assert imported_packages(package) <= MAY_IMPORT[package]
