"""FRD, Face Recognition Distance (paper Eq. 12): squared L2 between VGGFace2 embeddings of source and translation."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from i2i.pretrained import RANDOM_WEIGHTS, load_state, require_weights
from i2i.weights import facenet_checkpoints_dir

FACENET_FILE = "20180402-114759-vggface2.pt"
FACENET_SIZE = 160


def build_face_embedder(random_weights: bool = False, weights_dir: str | Path | None = None,
                        seed: int = 0) -> tuple[torch.nn.Module, str]:
    """facenet-pytorch's InceptionResnetV1 trained on VGGFace2 (512-d L2-normalised embeddings), frozen.

    Weights: ``20180402-114759-vggface2.pt`` from ``--weights-dir`` or ``$TORCH_HOME/checkpoints``, loaded with
    ``weights_only=True`` (its 8631-way classifier head is dropped). Returns ``(model, provenance)``.
    """
    from facenet_pytorch import InceptionResnetV1

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = InceptionResnetV1(pretrained=None, classify=False)
    if random_weights:
        return net.eval().requires_grad_(False), RANDOM_WEIGHTS
    path = require_weights(FACENET_FILE, "FRD VGGFace2 (facenet-pytorch)", weights_dir, facenet_checkpoints_dir())
    state = load_state(path)
    net.load_state_dict({k: v for k, v in state.items() if not k.startswith("logits.")})
    return net.eval().requires_grad_(False), f"pretrained ({path.name})"


@torch.no_grad()
def face_embeddings(net: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Embeddings (N, 512) of float images in [-1, 1] (N, 3, H, W): resized to 160 x 160 and standardised as
    facenet's ``fixed_image_standardization`` expects ((pixel - 127.5) / 128 on the 0-255 scale)."""
    device = next(net.parameters()).device
    x = F.interpolate(images.to(device).float(), size=(FACENET_SIZE, FACENET_SIZE), mode="bilinear",
                      align_corners=False, antialias=True)
    return net(x * (127.5 / 128.0))


def face_recognition_distance(source_embeddings: torch.Tensor, translation_embeddings: torch.Tensor) -> torch.Tensor:
    """``||phi(x) - phi(G(x, s))||^2`` for every translation: sources (N, E), translations (N, K, E) -> (N, K)."""
    return (translation_embeddings - source_embeddings[:, None]).pow(2).sum(-1)
