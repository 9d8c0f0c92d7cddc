"""Sample grids written during training: reference-guided (sources x references) and latent-guided."""
from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import make_grid

from i2i.data.dataset import DomainImages
from i2i.data.images import to_float, to_uint8
from i2i.media import save_png, translation_cells
from i2i.models import Networks
from i2i.rundir import checkpoint_name


def fixed_examples(images: DomainImages, per_domain: int = 2, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``offset .. offset + per_domain - 1`` of each domain (wrapping around) and their labels."""
    picks = []
    for d in range(images.num_domains):
        indices = images.domain_indices(d)
        picks += [indices[(offset + k) % len(indices)] for k in range(per_domain)]
    return torch.stack([images.image(i) for i in picks]), images.labels[picks]


def translate_all(ema: Networks, x_src: torch.Tensor, styles: torch.Tensor, fan=None) -> torch.Tensor:
    """Every source under every style (m, D): (n, m, 3, H, W), with the sources' FAN masks for face models."""
    masks = fan.face_masks(x_src) if fan is not None else None
    return ema.generator.decode_many(x_src, styles.expand(x_src.size(0), -1, -1), masks)


@torch.no_grad()
def reference_grid(ema: Networks, x_src: torch.Tensor, x_ref: torch.Tensor, y_ref: torch.Tensor,
                   fan=None) -> torch.Tensor:
    """StarGAN v2's reference figure: top row references, left column sources, cell = G(src, E(ref)).

    Inputs are float [-1, 1]; returns a uint8 (3, H, W) grid.
    """
    cells = translation_cells(x_src, translate_all(ema, x_src, ema.style_encoder(x_ref, y_ref), fan), x_ref)
    return make_grid(to_uint8(cells), nrow=x_ref.size(0) + 1, padding=2, pad_value=255)


@torch.no_grad()
def latent_grid(ema: Networks, x_src: torch.Tensor, num_domains: int, latent_dim: int,
                seeds_per_domain: int = 3, seed: int = 0, fan=None) -> torch.Tensor:
    """Left column sources, then for each target domain ``seeds_per_domain`` columns with fixed z."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(seeds_per_domain, latent_dim, generator=g).to(x_src.device)
    z = z.repeat(num_domains, 1)
    y = torch.arange(num_domains, device=x_src.device).repeat_interleave(seeds_per_domain)
    styles = ema.mapping_network(z, y)
    cells = translation_cells(x_src, translate_all(ema, x_src, styles, fan))
    return make_grid(to_uint8(cells), nrow=styles.size(0) + 1, padding=2, pad_value=255)


def write_sample_grids(ema: Networks, images: DomainImages, out_dir: str | Path, step: int,
                       latent_dim: int, device: torch.device, fan=None) -> dict[str, torch.Tensor]:
    """Write ``step_XXXXXXX_reference.png`` and ``..._latent.png`` for fixed validation images; return the two
    uint8 (3, H, W) grids by name (``reference``, ``latent``), e.g. for TensorBoard."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    src, _ = fixed_examples(images, per_domain=2)
    ref, y_ref = fixed_examples(images, per_domain=1, offset=2)
    src, ref = to_float(src).to(device), to_float(ref).to(device)
    grids = {"reference": reference_grid(ema, src, ref, y_ref.to(device), fan),
             "latent": latent_grid(ema, src, images.num_domains, latent_dim, fan=fan)}
    for name, grid in grids.items():
        save_png(grid, out_dir / f"{checkpoint_name(step)}_{name}.png")
    return grids


@torch.no_grad()
def cluster_probabilities(guide, images, batch_size: int = 256) -> torch.Tensor:
    """The guiding network's pseudo-domain probabilities (N, K) of every image of ``images``, on the CPU."""
    device = next(guide.parameters()).device
    chunks = []
    for start in range(0, len(images), batch_size):
        x = to_float(torch.stack([images.image(i) for i in range(start, min(len(images), start + batch_size))]))
        chunks.append(guide.cluster_logits(x.to(device)).softmax(1).cpu())
    return torch.cat(chunks)


def cluster_members(guide, images, per_cluster: int = 8) -> list[list[int]]:
    """For each pseudo-domain, the indices of the ``per_cluster`` images the guiding network assigns to it most
    confidently (fewer when the cluster has fewer members)."""
    probs = cluster_probabilities(guide, images)
    label = probs.argmax(1)
    members = []
    for k in range(probs.size(1)):
        idx = (label == k).nonzero().flatten()
        members.append(idx[probs[idx, k].argsort(descending=True)[:per_cluster]].tolist())
    return members


def write_cluster_sample_grids(ema: Networks, images, out_dir: str | Path, step: int, latent_dim: int,
                               device: torch.device) -> dict[str, torch.Tensor]:
    """Sample grids of a TUNIT run (no labels): ``reference`` (6 sources x 4 references, spread over the sorted
    images), ``latent`` (every pseudo-domain's sampled styles) and ``clusters`` (one row per pseudo-domain: its
    most confident members, an empty row for an empty cluster); each cluster's most confident member is also
    written to ``RUN/clusters/clusterK.png`` (``out_dir``'s parent), for the app. Returns the uint8 grids by name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spread = torch.linspace(0, len(images) - 1, 10).long().tolist()
    src = to_float(torch.stack([images.image(i) for i in spread[:6]])).to(device)
    ref = to_float(torch.stack([images.image(i) for i in spread[6:]])).to(device)
    zeros = torch.zeros(ref.size(0), dtype=torch.long, device=device)
    members = cluster_members(ema.style_encoder, images)
    reps = out_dir.parent / "clusters"  # RUN/clusters/clusterK.png: each cluster's most confident member
    reps.mkdir(exist_ok=True)
    for k, m in enumerate(members):
        if m:
            save_png(images.image(m[0]), reps / f"cluster{k}.png")
    blank = torch.full((3, images.img_size, images.img_size), 255, dtype=torch.uint8)
    rows = [[images.image(i) for i in m] + [blank] * (8 - len(m)) for m in members]
    grids = {"reference": reference_grid(ema, src, ref, zeros),
             "latent": latent_grid(ema, src, ema.mapping_network.mean.size(0), latent_dim),
             "clusters": make_grid(torch.stack([im for row in rows for im in row]), nrow=8, padding=2, pad_value=255)}
    for name, grid in grids.items():
        save_png(grid, out_dir / f"{checkpoint_name(step)}_{name}.png")
    return grids
