"""The wheel: one import root (``i2i``), every source file inside it, app/ and evaluation/ as i2i.app / i2i.evaluation."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # builds a wheel
def test_the_wheel_installs_i2i_only_with_every_module(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(ROOT),
                    "-w", str(tmp_path)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("i2i-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"i2i"}
    expected = {f"i2i/{p.relative_to(ROOT / 'i2i').as_posix()}" for p in (ROOT / "i2i").rglob("*.py")}
    expected |= {f"i2i/{folder}/{p.relative_to(ROOT / folder).as_posix()}" for folder in ("app", "evaluation")
                 for p in (ROOT / folder).rglob("*.py")}
    assert expected <= set(names), sorted(expected - set(names))


def test_app_and_evaluation_are_subpackages_of_i2i():
    code = "import i2i.app, i2i.evaluation, importlib.util; print(importlib.util.find_spec('evaluation') is None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=True)
    assert out.stdout.strip() == "True"  # outside the checkout only the i2i root exists
