"""The package tree is the architecture: each layer imports only the layers below it,
only ``harness.loadtest`` imports Locust, and importing never changes Locust.

See docs/architecture.md for the rules these tests hold."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[1] / "harness"

ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "protocol": {"errors"},
    "signing": {"errors", "protocol"},
    "config": {"errors"},
    "workload": {"errors", "protocol", "config"},
    "measure": {"errors", "protocol", "config", "workload"},
    "report": {"errors", "protocol", "config", "workload", "measure"},
    "client": {"errors", "protocol", "signing", "config", "measure"},
    "emulator": {"errors", "protocol", "signing", "config"},
    "diagnose": {"errors", "protocol", "signing", "emulator"},
    "loadtest": {
        "errors", "protocol", "signing", "config", "workload", "measure", "report", "client",
        "emulator",
    },
}  # fmt: skip
"""Each layer (a package of ``harness``, or ``errors``) and the layers it may import."""


def layer_of(path: Path) -> str:
    relative = path.relative_to(HARNESS)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            if node.module == "harness":  # from harness import errors
                modules.update(f"harness.{alias.name}" for alias in node.names)
    return modules


MODULES = sorted(
    path for path in HARNESS.rglob("*.py") if layer_of(path) not in ("__init__", "__main__")
)


def test_every_module_belongs_to_a_known_layer() -> None:
    assert MODULES
    unknown = {str(path.relative_to(HARNESS)) for path in MODULES if layer_of(path) not in ALLOWED}
    assert not unknown, f"modules outside the known layers: {sorted(unknown)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(HARNESS)))
def test_a_module_imports_only_the_layers_below_its_own(path: Path) -> None:
    layer = layer_of(path)
    allowed = ALLOWED[layer] | {layer}
    wrong = sorted(
        module
        for module in imported_modules(path)
        if module.startswith("harness.") and module.split(".")[1] not in allowed
    )
    assert not wrong, f"{layer} may import {sorted(ALLOWED[layer])}, not {wrong}"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(HARNESS)))
def test_only_the_loadtest_package_imports_locust(path: Path) -> None:
    if layer_of(path) == "loadtest":
        return
    locust = sorted(m for m in imported_modules(path) if m == "locust" or m.startswith("locust."))
    assert not locust, f"{path.relative_to(HARNESS)} imports {locust}"


def run_python(code: str) -> object:
    """Run ``code`` in a fresh interpreter; the JSON it printed last."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "modules",
    [
        ["harness"],
        ["harness.measure.summary", "harness.measure.recorders", "harness.measure.slo"],
        ["harness.report.files", "harness.report.console"],
        ["harness.workload.channels", "harness.config.retry"],
        ["harness.diagnose.cli"],
    ],
    ids=lambda modules: modules[0],
)
def test_the_measurement_and_report_code_imports_neither_locust_nor_gevent(
    modules: list[str],
) -> None:
    imports = "; ".join(f"import {module}" for module in modules)
    loaded = run_python(
        f"import json, sys; {imports}; "
        "print(json.dumps(sorted(m for m in ('locust', 'gevent') if m in sys.modules)))"
    )
    assert loaded == []


def test_importing_the_harness_adds_no_listener_until_install_is_called() -> None:
    counts = run_python(
        "import json, locust\n"
        "def handlers():\n"
        "    return sum(len(getattr(locust.events, name)._handlers)\n"
        "               for name in dir(locust.events) if not name.startswith('_'))\n"
        "before = handlers()\n"
        "import harness.loadtest.users, harness.loadtest.scenario, harness.loadtest\n"
        "imported = handlers()\n"
        "harness.loadtest.install(locust.events)\n"
        "installed = handlers()\n"
        "harness.loadtest.install(locust.events)\n"
        "print(json.dumps([before, imported, installed, handlers()]))\n"
    )
    assert isinstance(counts, list)
    before, imported, installed, again = counts
    assert imported == before
    assert installed > before
    assert again == installed  # installing twice adds nothing
