"""The wheel carries every template, page and catalog: an installed service must find them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from service.i18n import DOMAIN, LOCALES, SOURCE_LOCALE

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_wheel_contains_every_non_python_file_of_the_package(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    [wheel] = tmp_path.glob("*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    data_files = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "service").rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    }
    assert data_files, "the package has templates"
    assert data_files <= packaged, sorted(data_files - packaged)
    # Named, not only found: a language whose catalog is missing from the source
    # tree would pass the check above and still fail when the service starts.
    for locale in LOCALES:
        if locale != SOURCE_LOCALE:
            for suffix in ("po", "mo"):
                catalog = f"service/i18n/locales/{locale}/LC_MESSAGES/{DOMAIN}.{suffix}"
                assert catalog in packaged
