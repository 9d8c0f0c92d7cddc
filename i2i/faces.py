"""Face alignment to the CelebA-HQ framing that StarGAN v2's face models were trained on.

MTCNN (facenet-pytorch; its weights ship inside the package) finds the faces and their five landmarks (eyes,
nose, mouth corners); the largest face is warped by the similarity transform of the CelebA-HQ / FFHQ recipe
(Karras et al.): a square centred slightly below the eyes, oriented along the eye line, sized by
``max(2 * eye distance, 1.8 * eye-to-mouth distance)`` on each side of the centre.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

_DETECTOR = None


class FaceNotFoundError(ValueError):
    """No face was detected in an image that was to be aligned."""


def _detector():
    global _DETECTOR
    if _DETECTOR is None:
        from facenet_pytorch import MTCNN

        _DETECTOR = MTCNN(keep_all=True, device="cpu")
    return _DETECTOR


def detect_landmarks(img: Image.Image) -> np.ndarray:
    """The five landmarks (5, 2) in pixels (left eye, right eye, nose, left and right mouth corner, as seen in the
    image) of the largest face; FaceNotFoundError when there is none."""
    boxes, _, landmarks = _detector().detect(img.convert("RGB"), landmarks=True)
    if boxes is None or len(boxes) == 0:
        raise FaceNotFoundError("no face found in the image: pass a photo with a visible face, or turn face "
                                "alignment off")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.asarray(landmarks[int(np.argmax(areas))], dtype=np.float64)


def alignment_quad(landmarks: np.ndarray) -> np.ndarray:
    """The square (4, 2) in image pixels that becomes the aligned image: upper-left, lower-left, lower-right,
    upper-right corners (PIL's QUAD order)."""
    eye_left, eye_right, _, mouth_left, mouth_right = landmarks
    eye_avg, mouth_avg = (eye_left + eye_right) / 2, (mouth_left + mouth_right) / 2
    eye_to_eye, eye_to_mouth = eye_right - eye_left, mouth_avg - eye_avg
    x = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])  # eye line, corrected by the face's vertical
    x = x / np.hypot(*x) * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.array([-x[1], x[0]])
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def to_aligned(points: np.ndarray, quad: np.ndarray, size: int) -> np.ndarray:
    """Where image points (N, 2) land in the ``size`` x ``size`` aligned image of ``quad``."""
    origin, right, down = quad[0], quad[3] - quad[0], quad[1] - quad[0]
    basis = np.stack([right, down], axis=1)  # columns: image-space directions of the output's x and y axes
    return np.linalg.solve(basis, (points - origin).T).T * size


def align_face(img: Image.Image, size: int = 256) -> Image.Image:
    """The largest face of ``img`` cropped, rotated and scaled to the CelebA-HQ framing, ``size`` x ``size``."""
    quad = alignment_quad(detect_landmarks(img))
    return img.convert("RGB").transform((size, size), Image.Transform.QUAD, tuple((quad + 0.5).flatten()),
                                        Image.Resampling.BILINEAR)
