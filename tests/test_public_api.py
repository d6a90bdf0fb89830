"""The curated public API (harness/__init__.py): exactly what docs/api.md lists, every
name importable, nothing heavy imported by ``import harness``, and the page's example
runs."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import harness

ROOT = Path(__file__).resolve().parents[1]
API_PAGE = ROOT / "docs" / "api.md"


def documented_names() -> list[str]:
    """The names in the first column of docs/api.md's tables."""
    page = API_PAGE.read_text(encoding="utf-8")
    return re.findall(r"^\| `([A-Za-z_]+)` \|", page, flags=re.MULTILINE)


def type_checking_names() -> set[str]:
    """The names harness/__init__.py gives type checkers."""
    tree = ast.parse((ROOT / "harness" / "__init__.py").read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If))
    return {
        alias.asname or alias.name
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_the_exports_are_exactly_the_documented_names() -> None:
    documented = documented_names()
    assert len(documented) == len(set(documented)), "a name is listed twice in docs/api.md"
    assert sorted(documented, key=str.casefold) == harness.__all__


def test_type_checkers_see_the_same_names() -> None:
    assert type_checking_names() == set(harness.__all__)


def test_every_export_resolves_and_dir_lists_it() -> None:
    for name in harness.__all__:
        assert getattr(harness, name) is not None, name
    assert set(harness.__all__) <= set(dir(harness))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        harness.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_import_harness_loads_neither_locust_gevent_nor_botocore() -> None:
    done = run_python(
        "import sys, harness; "
        "print(sorted(m for m in ('locust', 'gevent', 'botocore', 'ssl') if m in sys.modules))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_pages_example_runs() -> None:
    page = API_PAGE.read_text(encoding="utf-8")
    (example,) = re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
    done = run_python(example)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '[\'{"hello": "world"}\']'
