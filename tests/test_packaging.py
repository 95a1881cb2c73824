"""A plain, non-editable install carries the browser page; the locks pin what the project declares."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from .support import REPO


def test_wheel_ships_the_web_folder(tmp_path: Path) -> None:
    """The wheel holds every file of web/ under wsserver/web/, and the console script."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir",
         str(tmp_path), str(REPO)],
        check=True, timeout=300, capture_output=True,
    )
    (wheel,) = tmp_path.glob("wsserver-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (p for p in (REPO / "web").rglob("*") if p.is_file()):
        assert f"wsserver/web/{path.relative_to(REPO / 'web').as_posix()}" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "wsserver = wsserver.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def _pinned(lock: Path) -> dict[str, str]:
    """Return the packages a lock pins (normalised name: version), checking each has its hashes."""
    pins: dict[str, str] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", lock.read_text()):
        match = re.match(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^ ;\\]+)", entry)
        if match:
            assert "--hash=sha256:" in entry, f"{lock.name}: {match.group(1)} has no hash"
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def test_the_locks_pin_every_declared_dependency() -> None:
    """locks/run.txt pins the runtime and build packages, test.txt the test ones too, each with hashes."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    def names(requirements: list[str]) -> set[str]:
        return {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.\-]+", r).group()).lower()  # type: ignore[union-attr]
                for r in requirements}
    runtime = names(project["project"]["dependencies"]) | {"hatchling", "editables"}
    test = runtime | names(project["project"]["optional-dependencies"]["test"])
    bench = test | names(project["project"]["optional-dependencies"]["bench"])
    for lock, wanted in (("run.txt", runtime), ("test.txt", test), ("bench.txt", bench)):
        pins = _pinned(REPO / "locks" / lock)
        assert wanted <= set(pins), f"{lock} misses {sorted(wanted - set(pins))}"
