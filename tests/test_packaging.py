"""A plain, non-editable install carries the browser page."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from .support import REPO


def test_wheel_ships_the_web_folder(tmp_path: Path) -> None:
    """The wheel holds every file of web/ under wsserver/web/, and the console script."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), str(REPO)],
        check=True, timeout=300, capture_output=True,
    )
    (wheel,) = tmp_path.glob("wsserver-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (p for p in (REPO / "web").rglob("*") if p.is_file()):
        assert f"wsserver/web/{path.relative_to(REPO / 'web').as_posix()}" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "wsserver = wsserver.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
