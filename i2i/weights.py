"""Every pretrained file the project uses, in one table: official URL, hash, the folder its library reads; fetching.

``fetch`` downloads into a temporary file beside the target, checks the hash, then renames: an interrupted or
refused download never leaves a file under the final name. ``I2I_WEIGHTS_MIRROR`` (or ``--mirror``) fetches
``MIRROR/<file name>`` instead of the official URL (``file://`` works); ``I2I_OFFLINE=1`` never touches the
network (the error then names the file, the folder and the fetch command).
"""
from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from i2i.rundir import apply_umask

MIRROR_ENV, OFFLINE_ENV = "I2I_WEIGHTS_MIRROR", "I2I_OFFLINE"


def hub_checkpoints_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (torchvision and pytorch-fid cache their downloads there)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def facenet_checkpoints_dir() -> Path:
    """``$TORCH_HOME/checkpoints``: facenet-pytorch's cache (not torch hub's ``hub/checkpoints``)."""
    from facenet_pytorch.models.inception_resnet_v1 import get_torch_home

    return Path(get_torch_home()) / "checkpoints"


def stargan_v2_dir(sub: str = "") -> Callable[[], Path]:
    """Where StarGAN v2's ``download.sh`` puts its files (``./expr/checkpoints``, relative to the working folder)."""
    return lambda: Path("expr/checkpoints") / sub


class MissingWeightsError(FileNotFoundError):
    """A pretrained weights file is not available locally and could not be fetched."""


class WeightsHashError(ValueError):
    """A downloaded file's hash differs from the registry's: it was refused and deleted."""


@dataclass(frozen=True)
class WeightsFile:
    """One pretrained file. ``sha256`` is the full hash or the prefix upstream publishes in the file name (torch
    hub's convention); None where upstream publishes none (then a fetched file must load with
    ``torch.load(weights_only=True)``)."""

    name: str
    filename: str
    url: str
    sha256: str | None
    folder: Callable[[], Path]
    used_for: str
    licence: str

    @property
    def path(self) -> Path:
        return self.folder() / self.filename


REGISTRY = {w.name: w for w in (
    WeightsFile("lpips-alexnet", "alexnet-owt-7be5be79.pth", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
                "7be5be79", hub_checkpoints_dir, "LPIPS trunk: content loss, LPIPS diversity, PS",
                "BSD-3 (torchvision)"),
    WeightsFile("fid-inception", "pt_inception-2015-12-05-6726825d.pth",
                "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
                "6726825d", hub_checkpoints_dir, "FID (pytorch-fid's TF-ported InceptionV3)",
                "Apache-2.0 (pytorch-fid)"),
    WeightsFile("facenet-vggface2", "20180402-114759-vggface2.pt",
                "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt",
                None, facenet_checkpoints_dir, "FRD (InceptionResnetV1 on VGGFace2)", "MIT (facenet-pytorch)"),
    WeightsFile("wing", "wing.ckpt", "https://www.dropbox.com/s/tjxpypwpt38926e/wing.ckpt?dl=1", None,
                stargan_v2_dir(), "FAN face masks of face models (w_hpf > 0)", "CC BY-NC 4.0 (StarGAN v2)"),
    WeightsFile("stargan-v2-celeba-hq", "100000_nets_ema.ckpt",
                "https://www.dropbox.com/s/96fmei6c93o8b8t/100000_nets_ema.ckpt?dl=1", None,
                stargan_v2_dir("celeba_hq"), "released StarGAN v2 CelebA-HQ model (i2i convert)", "CC BY-NC 4.0"),
    WeightsFile("stargan-v2-afhq", "100000_nets_ema.ckpt",
                "https://www.dropbox.com/s/etwm810v25h42sn/100000_nets_ema.ckpt?dl=1", None,
                stargan_v2_dir("afhq"), "released StarGAN v2 AFHQ model (i2i convert)", "CC BY-NC 4.0"),
)}


def by_filename(filename: str) -> WeightsFile | None:
    """The registry entry of a file name (the first one: the two released models share a name)."""
    return next((w for w in REGISTRY.values() if w.filename == filename), None)


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(entry: WeightsFile, path: str | Path) -> bool:
    """Whether ``path`` is the registry's file: its sha256 (prefix) matches, or, without a published hash, it
    loads as a weights-only checkpoint."""
    if entry.sha256 is not None:
        return sha256_of(path).startswith(entry.sha256)
    try:
        torch.load(path, map_location="cpu", weights_only=True)
        return True
    except Exception:
        return False


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A verified weights file's tensors, read with ``torch.load(weights_only=True)``: a pickle that would run
    code is a WeightsHashError naming the file, never executed."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise WeightsHashError(f"{path} was refused: it is not a weights-only file ({reason})") from None
    except Exception as err:  # truncated or not a torch file
        raise WeightsHashError(f"{path} is unreadable ({type(err).__name__}: {err})") from None
    if not isinstance(state, dict):
        raise WeightsHashError(f"{path} holds a {type(state).__name__}, not a state dict")
    return state


def offline_message(entry: WeightsFile, reason: str) -> str:
    """The one message of a missing file: which file, which folder, which command."""
    return (f"{entry.filename} is not in {entry.folder()} ({reason}). Run `i2i weights fetch {entry.name}` on a "
            f"machine with internet (add --mirror URL for a local mirror), or download {entry.url} into that folder")


def _download(url: str, dest: Path, progress: bool) -> None:
    with urllib.request.urlopen(url, timeout=30) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name.strip("."), disable=not progress) as bar:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
                bar.update(len(chunk))


def fetch(entry: WeightsFile, mirror: str | None = None, progress: bool = True) -> Path:
    """Download ``entry`` into its folder (atomically, hash-checked) and return its path; a file already there
    and verified is kept. MissingWeightsError when offline or unreachable, WeightsHashError on a bad hash."""
    target = entry.path
    if target.is_file() and verify(entry, target):
        return target
    mirror = mirror or os.environ.get(MIRROR_ENV)
    url = f"{mirror.rstrip('/')}/{entry.filename}" if mirror else entry.url
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        raise MissingWeightsError(offline_message(entry, f"{OFFLINE_ENV} is set"))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{entry.filename}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        try:
            _download(url, tmp, progress)
        except OSError as err:  # URLError, timeouts, missing mirror files
            raise MissingWeightsError(offline_message(entry, f"download from {url} failed: {err}")) from None
        if not verify(entry, tmp):
            got = sha256_of(tmp)[:16]
            raise WeightsHashError(f"{url} is not the expected {entry.filename}: sha256 {got}... does not start with "
                                   f"{entry.sha256}" if entry.sha256 else f"{url} does not load as a checkpoint")
        apply_umask(tmp)  # mkstemp's 0600 would hide the file from the machine's other users
        shutil.move(str(tmp), target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def status(entry: WeightsFile) -> str:
    """``verified``, ``present, hash differs`` or ``missing``."""
    if not entry.path.is_file():
        return "missing"
    return "verified" if verify(entry, entry.path) else "present, hash differs"
