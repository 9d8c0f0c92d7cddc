"""Face alignment on a real photo that scikit-image ships (the astronaut Eileen Collins, public domain)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from i2i.faces import FaceNotFoundError, align_face, alignment_quad, detect_landmarks, to_aligned

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (test extra) ships the astronaut photo")


@pytest.fixture(scope="module")
def astronaut():
    return Image.fromarray(skimage_data.astronaut())


def test_quad_of_a_level_frontal_face_is_the_celeba_hq_square():
    """Eyes 40 px apart at y=100, mouth 50 px below: side 2 * max(2 * 40, 1.8 * 50) = 180, centre 5 px below the
    eyes; the eyes land at (0.5 -+ 40/360, 0.5 - 5/180) of the aligned image."""
    lm = np.array([[80.0, 100], [120, 100], [100, 125], [85, 150], [115, 150]])
    quad = alignment_quad(lm)
    assert np.allclose(quad, [[10, 15], [10, 195], [190, 195], [190, 15]])
    eyes = to_aligned(lm[:2], quad, 180)
    assert np.allclose(eyes, [[70, 85], [110, 85]])


def test_astronaut_eyes_land_on_the_template(astronaut):
    """Align, detect again: every landmark within 3 px of where the transform puts it, and the eyes at the CelebA-HQ
    template (3/8 and 5/8 of the width, just above mid-height) within 4 px at 256 px."""
    size = 256
    landmarks = detect_landmarks(astronaut)
    expected = to_aligned(landmarks, alignment_quad(landmarks), size)
    aligned = align_face(astronaut, size)
    assert aligned.size == (size, size)
    found = detect_landmarks(aligned)
    assert np.abs(found - expected).max() < 3.0
    template = np.array([[0.375 * size, 0.477 * size], [0.625 * size, 0.477 * size]])
    assert np.abs(found[:2] - template).max() < 4.0


def test_no_face_is_a_clear_error():
    with pytest.raises(FaceNotFoundError, match="no face found"):
        detect_landmarks(Image.new("RGB", (160, 160), (120, 160, 200)))


def test_translate_align_faces_from_the_cli(astronaut, tiny_run, tmp_path, capsys):
    from i2i.cli import main

    astronaut.save(tmp_path / "astronaut.png")
    Image.new("RGB", (64, 64), (90, 90, 90)).save(tmp_path / "wall.png")
    out = tmp_path / "out"
    assert main(["translate", "--checkpoint", str(tiny_run), "--input", str(tmp_path / "astronaut.png"),
                 "--domain", "dots", "--out", str(out), "--align-faces"]) == 0
    assert Image.open(out / "astronaut_to_dots.png").size == (32, 32)
    assert main(["translate", "--checkpoint", str(tiny_run), "--input", str(tmp_path / "wall.png"),
                 "--domain", "dots", "--out", str(out), "--align-faces"]) == 1
    assert "no face found" in capsys.readouterr().err
