"""The benchmark scripts run anywhere: the GPU check exits 0 without CUDA; the paired oracle writes a run that loads."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the script would run the real check")
def test_gpu_check_exits_0_without_cuda(tmp_path):
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], capture_output=True, text=True,
                          timeout=120, env={"OUT": str(tmp_path), "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    assert done.returncode == 0 and "no CUDA device" in done.stdout
    assert not (tmp_path / "gpu_check.md").exists()


def test_paired_oracle_pairs_by_file_name_and_writes_a_run_that_loads(tmp_path):
    """Two domains sharing the names 0-2 (domain a also has an unpaired x): the table pairs 0-2 only; two
    adversarial iterations write a checkpoint whose EMA networks load like any run's."""
    import importlib.util

    import numpy as np
    from PIL import Image

    from i2i.data.dataset import DomainImages
    from i2i.hub import load_networks
    from i2i.rundir import resolve_checkpoint
    from conftest import TINY

    rng = np.random.default_rng(0)
    for d, names in (("a", ["0", "1", "2", "x"]), ("b", ["0", "1", "2"])):
        folder = tmp_path / "data" / "train" / d
        folder.mkdir(parents=True)
        for n in names:
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{n}.png")
    spec = importlib.util.spec_from_file_location("paired_oracle", ROOT / "benchmarks" / "paired_oracle.py")
    oracle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracle)
    images = DomainImages(tmp_path / "data", "train", 32, progress=False)
    table = oracle.paired_table(images)
    assert [[images.paths[i].parent.name + "/" + images.paths[i].stem for i in row] for row in table.tolist()] == \
        [["a/0", "b/0"], ["a/1", "b/1"], ["a/2", "b/2"]]
    oracle.main(["--adversarial", "--out", str(tmp_path / "run"),
                 *[f"--set={o}" for o in (*TINY, f"data.root={tmp_path / 'data'}", "train.total_iters=2")]])
    _, domains, ema = load_networks(*resolve_checkpoint(tmp_path / "run"))
    assert domains == ["a", "b"] and ema.generator is not None
