"""Dataset generators' output: a folder written whole or not at all (staged, then renamed) and the manifest CSV."""
from __future__ import annotations

import contextlib
import csv
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from i2i.rundir import apply_umask

MANIFEST = "manifest.csv"


@contextlib.contextmanager
def staged_output_dir(out: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``out`` to write a data set into; move it to ``out`` when the block ends
    without an error, else delete it, so a failed run leaves no partial ``out`` behind (a rerun needs no
    ``--overwrite``). A non-empty ``out`` is refused before anything is written unless ``overwrite``, in which
    case it is replaced only once the new data set is complete."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"--out {out} is not empty: choose a new folder, or pass --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        apply_umask(stage, directory=True)
        yield stage
        if out.is_dir():
            shutil.rmtree(out)
        stage.rename(out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_manifest(rows: list[dict], out: str | Path) -> Path:
    """Write ``out/manifest.csv``: one row per image (its split, domain, file and generating parameters)."""
    path = Path(out) / MANIFEST
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
