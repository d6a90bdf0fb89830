"""Which users a locustfile runs: its own, or a scenario's (``--scenario NAME``).

Locust collects user classes and load shapes from a locustfile's namespace when it
imports the file, before it parses the command line. So ``locustfile.py`` asks
:func:`locustfile_classes` at import: it reads ``--scenario`` itself (the command
line, ``LOCUST_SCENARIO`` and Locust's config files, as Locust would), imports
``scenarios/NAME.py`` and returns that scenario's users and shape, or the default
users when no scenario is named. The option is also registered with the others
(``harness.loadtest.settings``), so Locust's own parser accepts it and the run's
settings record it.

The scenarios are the ``.py`` files of :data:`SCENARIOS_DIR`, the ``scenarios/``
folder beside the ``harness`` package (a checkout of the project).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import ConfigurationError
from harness.measure.verdict import EXIT_BAD_SETTINGS

SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "scenarios"
OPTION = "--scenario"
ENV_VAR = "LOCUST_SCENARIO"

_loaded: list[str] = []
"""The scenarios :func:`load_scenario` imported in this process."""


def scenario_names() -> tuple[str, ...]:
    """Every scenario, by file name without ``.py``, sorted."""
    return tuple(
        sorted(path.stem for path in SCENARIOS_DIR.glob("*.py") if not path.name.startswith("_"))
    )


def check_scenario(option: str, value: Any) -> str:
    """An option check: empty, or the name of a scenario."""
    name = str(value or "").strip()
    if name and name not in scenario_names():
        raise ConfigurationError(
            option, f"unknown scenario {name!r}; choose one of {', '.join(scenario_names())}"
        )
    return name


def requested_scenario(argv: Sequence[str]) -> str:
    """The ``--scenario`` of ``argv`` (else ``LOCUST_SCENARIO``, else Locust's config
    files), checked; empty when none is named."""
    from locust.argument_parser import get_empty_argument_parser

    parser = get_empty_argument_parser(add_help=False)
    parser.add_argument(OPTION, default="", env_var=ENV_VAR)
    options, _ = parser.parse_known_args(args=list(argv))
    return check_scenario(OPTION, options.scenario)


def load_scenario(name: str) -> dict[str, Any]:
    """Import ``scenarios/NAME.py`` once per process; the user classes and load shapes
    Locust would pick up from it (non-abstract ``User`` and ``LoadTestShape`` classes)."""
    from locust import LoadTestShape, User

    module_name = f"harness_scenario_{check_scenario(OPTION, name)}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, SCENARIOS_DIR / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        _loaded.append(name)
    return {
        attribute: value
        for attribute, value in vars(module).items()
        if inspect.isclass(value)
        and (
            (issubclass(value, User) and not value.abstract)
            or (issubclass(value, LoadTestShape) and not getattr(value, "abstract", True))
        )
    }


def loaded_scenarios() -> tuple[str, ...]:
    """The scenarios this process imported through :func:`load_scenario`."""
    return tuple(_loaded)


def locustfile_classes(
    default: dict[str, Any], argv: Sequence[str] | None = None
) -> dict[str, Any]:
    """What a locustfile exposes: ``default`` (its own users), or the classes of the
    scenario ``--scenario`` names. A bad name ends the process with status 2 and a
    message listing the scenarios (Locust has not set up logging yet)."""
    try:
        name = requested_scenario(sys.argv[1:] if argv is None else argv)
        return load_scenario(name) if name else default
    except ConfigurationError as exc:
        sys.stderr.write(f"invalid settings: {exc}\n")
        sys.exit(EXIT_BAD_SETTINGS)
