"""The import layering of docs/architecture.md: inference, evaluation and the app never load the training stack."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_inference_evaluation_and_app_import_without_training():
    code = ("import sys, i2i.evaluation, i2i.experiments.ablate, i2i.app, i2i.app.ui, i2i.inference, i2i.rundir; "
            "print(sorted(m for m in sys.modules if m.startswith('i2i.training')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_rundir_and_config_do_not_import_the_networks():
    code = "import sys, i2i.rundir, i2i.config; print(sorted(m for m in sys.modules if m.startswith('i2i.models')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
