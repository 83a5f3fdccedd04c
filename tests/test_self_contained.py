"""The repository is self-contained: what it runs reads no path outside the clone (a user's
clone has no ../shared beside it). `.ci/run` also runs the suite from a clone in an empty
temporary directory, so a reference this scan misses still fails CI."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What reaches outside: the notes folder beside the clone, a parent of the repository root, the
# machine's own paths, a user's home.
OUTSIDE = re.compile(
    r"\.\./shared|/work/|ROOT\.parent\b|parent\.parent\.parent|expanduser|\$HOME|\$\{HOME\}"
    r"|Path\.home\(\)|os\.environ\[.HOME.\]"
)
RUN_BY_US = ("tests/", "bench/", "Makefile", ".ci/", "pyproject.toml", "worker/", "producers/")


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    return [name for name in listed if name.startswith(RUN_BY_US)
            and not name.endswith((".json", ".md"))]


def test_nothing_the_repository_runs_names_a_path_outside_the_clone() -> None:
    """No test, benchmark, Makefile rule, CI step or package module points beyond the clone."""
    this_file = Path(__file__).resolve().relative_to(ROOT).as_posix()
    offenders = [
        f"{name}:{number}: {line.strip()}"
        for name in tracked_files() if name != this_file
        for number, line in enumerate((ROOT / name).read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not offenders, "paths outside the clone:\n" + "\n".join(offenders)


def test_the_scan_catches_a_reference_to_the_notes_folder() -> None:
    """The pattern finds the forms that broke a fresh clone before (issue 13)."""
    assert OUTSIDE.search('SCHEMA = ROOT.parent / "shared" / "schemas" / "compose-spec.json"')
    assert OUTSIDE.search("cat ../shared/x-api.md")
    assert not OUTSIDE.search('SCHEMA = Path(__file__).parent / "schemas" / "compose-spec.json"')


def test_ci_runs_the_suite_from_a_clone_with_nothing_beside_it() -> None:
    """.ci/run clones the repository into an empty temporary directory and runs make test there."""
    script = (ROOT / ".ci" / "run").read_text()
    assert "mktemp -d" in script and "git clone" in script
    assert script.index("git clone") < script.index("make test")
