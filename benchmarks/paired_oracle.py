"""What the config's networks reach when they are shown the answers: a supervised ceiling for paired data.

On paired data (``train/<domain>/<name>.png`` shows one content in every domain, as ``make-emoji`` writes it) the
answer to every translation is known. This trains the config's G, M and E, with the config's sizes, start, batch,
rates and schedule, on that answer alone: for a source ``x`` (domain a, content e), a target domain b and a reference
``r`` of b showing another content, the loss is ``|G(x, E(r, b)) - y| + |G(x, M(z, b)) - y|`` with ``y`` = e as b
draws it (L1; no StarGAN v2 terms). L1 alone regresses to the mean of what the answer could be and blurs, so
``--adversarial`` adds pix2pix's recipe (Isola et al. 2017): weight 100 on the L1 term, and the config's multitask
D judging the translation against the real answer, with the config's R1. Flips as the config's (source and
answer together); no random crops, which would move the answer. The run directory has the usual layout, so
``i2i eval`` scores it like any run. If the supervised networks cannot reach a figure in the budget either, the
unsupervised recipe cannot be expected to; if they can, the limit is in the unsupervised objective.

Example:
    python benchmarks/paired_oracle.py --config configs/emoji.yaml --out runs/oracle --set data.root=data/emoji
    i2i eval --checkpoint runs/oracle --data data/emoji --metrics domain_acc,paired_reference,paired_latent
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from i2i.cli.common import add_overrides
from i2i.config import load_config
from i2i.data.dataset import DomainImages
from i2i.data.images import to_float
from i2i.evaluation.paired import paired_truth
from i2i.kinds import build_networks
from i2i.losses import adversarial_loss, r1_penalty
from i2i.training.checkpoint import save_checkpoint
from i2i.training.ema import update_ema
from i2i.training.loop import prepare_run_dir
from i2i.training.trainer import make_optimizers, set_learning_rates


def paired_table(images: DomainImages) -> torch.Tensor:
    """``(contents, domains)`` image indices of the contents that every domain has (paired by file name, as
    :func:`i2i.evaluation.paired.paired_truth` pairs them), in the order of their names."""
    truth = paired_truth(images)
    if truth is None:
        raise SystemExit(f"{images.root}/{images.split} is not paired: fewer than half of its images have a "
                         "same-named partner in every domain")
    first = images.domain_indices(0)
    rows = truth.partner[first.start:first.stop]
    rows = rows[(rows >= 0).all(1)]
    return rows[sorted(range(len(rows)), key=lambda r: images.paths[rows[r, 0]].stem)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="a config YAML (default: the defaults)")
    parser.add_argument("--out", required=True, help="a new run directory")
    parser.add_argument("--adversarial", action="store_true", help="pix2pix: L1 x 100 plus the config's D")
    add_overrides(parser)
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.set)
    m, t = cfg.model, cfg.train
    torch.manual_seed(t.seed)
    images = DomainImages(cfg.data.root, "train", m.img_size, cfg.data.cache_images, progress=False)
    table = paired_table(images)
    stack = to_float(torch.stack([images.image(i) for i in range(len(images))]))
    prepare_run_dir(cfg, Path(args.out), images.domains, resume=False)
    nets = build_networks(m, images.num_domains, discriminator=args.adversarial)
    ema = nets.ema_copy()
    trained = ("generator", "mapping_network", "style_encoder")
    optimized = trained + (("discriminator",) if args.adversarial else ())
    optims = make_optimizers(nets, t, optimized)
    g = torch.Generator().manual_seed(t.seed)
    nc, nd, b = table.shape[0], table.shape[1], t.batch_size
    start = time.perf_counter()
    for step in range(1, t.total_iters + 1):
        set_learning_rates(optims, t, step - 1)
        content = torch.randint(nc, (b,), generator=g)
        src = torch.randint(nd, (b,), generator=g)
        trg = (src + torch.randint(1, nd, (b,), generator=g)) % nd  # another domain
        ref_content = (content + torch.randint(1, nc, (b,), generator=g)) % nc  # another content of the target
        x, y = stack[table[content, src]], stack[table[content, trg]]
        ref = stack[table[ref_content, trg]]
        if cfg.data.hflip:
            flip = torch.rand(b, generator=g) < 0.5
            flip = flip[:, None, None, None]
            x, y = torch.where(flip, x.flip(3), x), torch.where(flip, y.flip(3), y)
        z = torch.randn(b, m.latent_dim, generator=g)
        by_ref = nets.generator(x, nets.style_encoder(ref, trg))
        by_latent = nets.generator(x, nets.mapping_network(z, trg))
        l1 = F.l1_loss(by_ref, y) + F.l1_loss(by_latent, y)
        loss = l1
        if args.adversarial:
            d = nets.discriminator
            real = y.detach().requires_grad_(cfg.loss.lambda_reg > 0)
            out = d(real, trg)
            fakes = sum(adversarial_loss(d(f.detach(), trg), 0) for f in (by_ref, by_latent))
            d_loss = adversarial_loss(out, 1) + fakes
            if cfg.loss.lambda_reg > 0:
                d_loss = d_loss + cfg.loss.lambda_reg * r1_penalty(out, real)
            optims["discriminator"].zero_grad(set_to_none=True)
            d_loss.backward()
            optims["discriminator"].step()
            d.requires_grad_(False)
            loss = 100 * l1 + adversarial_loss(d(by_ref, trg), 1) + adversarial_loss(d(by_latent, trg), 1)
            d.requires_grad_(True)
        for n in trained:
            optims[n].zero_grad(set_to_none=True)
        loss.backward()
        for n in trained:
            optims[n].step()
            update_ema(getattr(nets, n), getattr(ema, n), t.ema_beta)
        if step % t.log_every == 0 or step == t.total_iters:
            print(f"step {step}  L1 {l1.item() / 2:.4f}  {(time.perf_counter() - start) / step:.2f} s/it", flush=True)
        if step == t.total_iters or (t.save_every and step % t.save_every == 0):
            save_checkpoint(args.out, step, nets, ema, {}, keep=0)


if __name__ == "__main__":
    main()
