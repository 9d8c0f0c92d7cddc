"""Dataset generators' output: a folder that is empty (or emptied on request) and the manifest CSV."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

MANIFEST = "manifest.csv"


def prepare_output_dir(out: str | Path, overwrite: bool = False) -> Path:
    """Create ``out`` (parents included) and return it; refuse a non-empty folder unless ``overwrite``, which
    empties it first, so a data set never mixes files of two generator runs with a manifest of one."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"--out {out} is not empty: choose a new folder, or pass --overwrite to empty it "
                                  "first")
        for child in out.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_manifest(rows: list[dict], out: str | Path) -> Path:
    """Write ``out/manifest.csv``: one row per image (its split, domain, file and generating parameters)."""
    path = Path(out) / MANIFEST
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
