"""The suite's own rules (tests/conftest.py), run on a throwaway project laid out like this one.

Without ../shared/data a realdata test is deselected and the run says so; under CI=true it fails; a test
reading ../shared/data without the marker is a collection error; every skip is listed with its reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parent / "conftest.py"
TESTS = '''
import pytest

@pytest.mark.realdata
def test_real(shared_data):
    assert shared_data.is_dir()

def test_plain():
    pass

def test_skipped():
    pytest.skip("because of a reason worth reading")
'''


def _run(tmp_path: Path, body: str, *, ci: bool) -> subprocess.CompletedProcess[str]:
    repo = tmp_path / "repo"  # no ../shared beside it
    (repo / "tests").mkdir(parents=True)
    shutil.copy(CONFTEST, repo / "tests" / "conftest.py")
    (repo / "tests" / "test_x.py").write_text(body)
    (repo / "pytest.ini").write_text("[pytest]\nmarkers =\n  realdata: r\n  gpu: g\n")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)


def test_without_shared_data_realdata_is_deselected_and_skips_are_listed(tmp_path: Path) -> None:
    res = _run(tmp_path, TESTS, ci=False)
    assert res.returncode == 0, res.stdout
    assert "1 realdata test(s) deselected" in res.stdout and "shared/data not found" in res.stdout
    assert "SKIPPED tests/test_x.py::test_skipped: because of a reason worth reading" in res.stdout


def test_under_ci_a_missing_shared_data_fails(tmp_path: Path) -> None:
    res = _run(tmp_path, TESTS, ci=True)
    assert res.returncode == 1 and "CI must provide it" in res.stdout, res.stdout


@pytest.mark.parametrize("ci", [False, True])
def test_reading_shared_data_without_the_marker_is_a_collection_error(tmp_path: Path, ci: bool) -> None:
    res = _run(tmp_path, "def test_sneaky(shared_data):\n    pass\n", ci=ci)
    assert res.returncode != 0 and "must be marked realdata" in res.stdout + res.stderr
