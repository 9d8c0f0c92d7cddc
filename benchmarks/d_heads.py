"""How well a run's discriminator heads tell its domains apart: on real validation images, and on translations.

Each head of StarGAN v2's multitask D answers "a real image of domain y?". If a head also accepts the other domains'
reals, it cannot push the generator away from the source's look. Printed per domain: the mean logit of each head on
that domain's real validation images and the share whose highest logit is their own head's; then, for latent-guided
translations of each source domain into each target, the share whose highest logit is the target's head.

Example: python benchmarks/d_heads.py --checkpoint runs/emoji/checkpoints/step_0001200 --data data/emoji
"""
from __future__ import annotations

import argparse

import torch

from i2i.data.dataset import DomainImages
from i2i.data.images import to_float
from i2i.hub import load_networks
from i2i.kinds import build_networks
from i2i.rundir import NETS_FILE, load_flat_state, read_weights, resolve_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a checkpoint folder (RUN/checkpoints/step_N)")
    parser.add_argument("--data", required=True, help="dataset root with val/<domain>/")
    parser.add_argument("--per-domain", type=int, default=48, help="validation images per domain")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    run_dir, ema_file = resolve_checkpoint(args.checkpoint)
    cfg, domains, ema = load_networks(run_dir, ema_file)
    nets = build_networks(cfg.model, len(domains))  # the trained networks: the EMA set has no discriminator
    load_flat_state(nets, read_weights(ema_file.parent / NETS_FILE), str(ema_file.parent / NETS_FILE))
    val = DomainImages(args.data, "val", cfg.model.img_size, progress=False)
    if val.domains != domains:
        parser.error(f"{args.data} has domains {val.domains}, the run {domains}")
    g = torch.Generator().manual_seed(args.seed)
    reals = [to_float(torch.stack([val.image(i) for i in val.domain_indices(d)[:args.per_domain]]))
             for d in range(len(domains))]
    heads = nets.discriminator.eval()
    with torch.no_grad():
        print("real validation images: mean logit per head, share won by their own head")
        for d, x in enumerate(reals):
            logits = heads.main(x).flatten(1)
            print(f"  {domains[d]:>12}: {logits.mean(0).numpy().round(2)}  own head {(logits.argmax(1) == d).float().mean():.3f}")
        print("latent-guided translations: share won by the target's head")
        for s, x in enumerate(reals):
            for t in range(len(domains)):
                if s == t:
                    continue
                y = torch.full((len(x),), t)
                fake = ema.generator(x, ema.mapping_network(torch.randn(len(x), cfg.model.latent_dim, generator=g), y))
                won = (heads.main(fake).flatten(1).argmax(1) == t).float().mean()
                print(f"  {domains[s]:>12} -> {domains[t]:<12} {won:.3f}")


if __name__ == "__main__":
    main()
