"""The package layout keeps its shape: layers import only downwards (import-linter's contracts
in pyproject.toml), no module imports itself through others, each subpackage's docstring maps
every module in it, and modules stay small enough to read in one sitting."""

from __future__ import annotations

import ast
import importlib
import itertools
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("worker", "producers", "fake_x")
MAX_LINES = 300


def source_files() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def test_the_import_contracts_hold() -> None:
    """lint-imports (also run by make lint): layers, Celery only in the adapter, the emulator
    apart."""
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_module_imports_itself_through_others() -> None:
    """No import cycles, lazy (in-function) imports included: settings <-> redis_client was one."""
    graph = grimp.build_graph(*PACKAGES)
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported == module or imported.startswith(module + "."):
                continue  # a package importing its own submodule is no cycle
            if module.startswith(imported + "."):
                continue  # nor a submodule importing its package
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain is not None:
                cycles.append(" -> ".join((module, *chain)))
    assert not cycles, "\n".join(cycles)


@pytest.mark.parametrize("package", [
    "worker.core", "worker.x_api", "worker.domain", "worker.ops", "worker.celery_adapter",
    "worker.embedded", "worker.web", "worker.cli", "fake_x",
])
def test_each_subpackage_docstring_maps_its_modules(package: str) -> None:
    """A newcomer reads the package's __init__ and knows where a change goes."""
    module = importlib.import_module(package)
    doc = module.__doc__ or ""
    folder = ROOT / Path(*package.split("."))
    names = sorted(path.name for path in folder.glob("*.py")
                   if path.name not in ("__init__.py", "__main__.py"))
    missing = [name for name in names if name not in doc]
    assert not missing, f"{package}'s docstring does not mention {missing}"


def test_modules_stay_small() -> None:
    """A few hundred lines at most: one concern each (style guide, habit 1)."""
    too_long = {path.relative_to(ROOT).as_posix(): count for path in source_files()
                if (count := len(path.read_text().splitlines())) > MAX_LINES}
    assert not too_long, too_long


def test_every_module_says_what_it_is_for() -> None:
    """Each module opens with a docstring."""
    undocumented = [path.relative_to(ROOT).as_posix() for path in source_files()
                    if path.stat().st_size and ast.get_docstring(ast.parse(path.read_text()))
                    is None]
    assert not undocumented, undocumented


def test_the_layers_are_the_ones_the_readme_draws() -> None:
    """The README's tree names every subpackage of worker (it is the map people read first)."""
    readme = (ROOT / "README.md").read_text()
    subpackages = sorted(path.parent.name for path in (ROOT / "worker").glob("*/__init__.py"))
    missing = [name for name in subpackages if f"{name}/" not in readme]
    assert not missing, missing
    assert list(itertools.chain(subpackages))  # there are some


def test_the_tests_mirror_the_packages() -> None:
    """Each part has its tests beside the others of its layer: tests/<subpackage>/ for every
    subpackage of worker, and for producers and the emulator."""
    parts = sorted(path.parent.name for path in (ROOT / "worker").glob("*/__init__.py"))
    for part in [*parts, "producers", "fake_x"]:
        folder = ROOT / "tests" / part
        assert any(folder.glob("test_*.py")), f"no tests in tests/{part}/"
