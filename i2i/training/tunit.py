"""The TUNIT trainer (``model.kind: tunit``): guiding network, generator and discriminator without labels.

One iteration, as TUNIT's ``trainGAN_UNSUP`` (Baek et al. 2021, MIT-licensed code read for the order and the
weights), with the smooth-style-space paper's terms added to the generator step:

1. guiding network ``C``: ``L_moco + w_iic * L_IIC`` (times ``guide_scale`` once the GAN trains) between each
   image ``x`` and its augmented view; MoCo keys from the momentum copy of ``C`` (the EMA guiding network), negatives from a FIFO queue;
2. pseudo-labels ``y = argmax C(x)``, references ``x_ref`` (a permutation of the batch) with ``y_ref``; D step with
   the hinge loss on ``x_ref`` (real) and ``G(x, C(x_ref))`` (fake) under ``y_ref``, plus R1 on ``x_ref``;
3. G step (also steps ``C``): hinge ``L_adv`` of the translation (``y_ref``) and of the reconstruction
   ``G(x, C(x))`` (``y``), ``w_rec * L1`` reconstruction, ``w_vec * L_style`` (InfoNCE of ``C(G(x, s_ref))``
   against the momentum encoder's ``C(x_ref)``), and the paper's terms: triplet with pseudo-domains as domains,
   SR, LPIPS content;
4. queue update (keys of every rank), EMA of C every iteration and of G from ``tunit.ema_start`` (before it, the
   EMA generator is a copy of G so that early sample grids show the model), per-cluster style moments.

Steps 2-3 start at iteration ``tunit.separated`` (TUNIT's warm-up of the guiding network alone).

Triplets here (paper Eq. 1 with pseudo-domains): anchor ``C(x_ref_i)``, positive ``C(x_ref_j)`` of another
reference with the same pseudo-label, negative ``C(x_i)`` when ``y_i != y_ref_i``; rows without such a positive or
negative are left out. SR: ``s_ref`` and ``s_src``. Content: LPIPS between ``x`` and its translation.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch

from i2i import losses
from i2i.clustering import cluster_accuracy, normalized_mutual_info
from i2i.config import Config
from i2i.data.unlabelled import UnlabelledBatches, UnlabelledImages
from i2i.training.distributed import DistInfo, all_gather_rows, all_reduce_mean
from i2i.training.ema import update_ema
from i2i.training.samples import cluster_probabilities, write_cluster_sample_grids
from i2i.training.schedules import ramp_weight
from i2i.training.trainer import TrainerBase, set_learning_rates


@dataclass(frozen=True)
class TunitWeights:
    """R1's and the paper's loss weights at one iteration (after the SR ramp) and the smoothing terms switched on
    (:attr:`i2i.config.LossConfig.smoothing_on`)."""

    reg: float
    tri: float
    sr: float
    cont: float
    on: frozenset[str]


@contextlib.contextmanager
def train_mode(net: torch.nn.Module):
    """Batch statistics in BatchNorm for the momentum encoder's keys (TUNIT keeps its C_EMA in train mode)."""
    was = net.training
    net.train()
    try:
        yield net
    finally:
        net.train(was)


def enqueue(queue: torch.Tensor, keys: torch.Tensor, size: int) -> torch.Tensor:
    """MoCo's FIFO queue: append ``keys`` and keep the newest ``size`` rows."""
    return torch.cat([queue, keys])[-size:]


def same_label_partner(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row, the first other row with the same label, and whether there is one."""
    same = labels[:, None] == labels[None, :]
    same.fill_diagonal_(False)
    return same.float().argmax(1), same.any(1)


class TunitTrainer(TrainerBase):
    """Owns C (``nets.style_encoder``), G, D, the per-cluster style moments (``nets.mapping_network``), their EMA
    copies, the optimisers and the MoCo queue."""

    optimized = ("generator", "style_encoder", "discriminator")
    domain_kind = "pseudo-domains (no labels read)"
    progress_keys = {"iic": "C/iic", "moco": "C/moco", "D_real": "D/real", "G_adv": "G/adv", "rec": "G/rec"}

    def __init__(self, cfg: Config, num_clusters: int, device: torch.device, dist_info: DistInfo = DistInfo()):
        super().__init__(cfg, num_clusters, device, dist_info)
        self.queue = torch.zeros(0, cfg.model.style_dim, device=device)

    @classmethod
    def load_data(cls, cfg: Config, progress: bool) -> tuple[UnlabelledImages, UnlabelledImages]:
        """The training images (folders ignored) and the validation images (the training ones without ``val/``)."""
        args = (cfg.model.img_size, cfg.data.cache_images, progress)
        images = UnlabelledImages(cfg.data.root, "train", *args)
        val = UnlabelledImages(cfg.data.root, "val", *args) if (Path(cfg.data.root) / "val").is_dir() else images
        return images, val

    @classmethod
    def domain_names(cls, cfg: Config, images: UnlabelledImages) -> list[str]:
        return [f"cluster{k}" for k in range(cfg.model.num_clusters)]

    def batches(self, images: UnlabelledImages, rank: int, world_size: int) -> UnlabelledBatches:
        c = self.cfg
        return UnlabelledBatches(images, c.train.batch_size, c.train.seed, c.data.randcrop_prob, c.tunit,
                                 c.train.total_iters, rank, world_size, c.data.hflip)

    def samples(self, val: UnlabelledImages, out_dir: Path, step: int) -> tuple[dict[str, torch.Tensor], dict]:
        """The cluster sample grids, and the clusters' accuracy and NMI on the validation images when their folders
        name true domains (for evaluation only: training never reads them)."""
        grids = write_cluster_sample_grids(self.ema, val, out_dir, step, self.cfg.model.latent_dim, self.device)
        if val.true_labels is None:
            return grids, {}
        pred = cluster_probabilities(self.ema.style_encoder, val).argmax(1)
        return grids, {"cluster/acc": cluster_accuracy(pred, val.true_labels),
                       "cluster/nmi": normalized_mutual_info(pred, val.true_labels)}

    def loss_weights(self, step: int) -> "TunitWeights":
        """The weights of R1 and the paper's terms at ``step`` (TUNIT's own terms are fixed: ``tunit.*``)."""
        c = self.cfg.loss
        sr = ramp_weight(step, c.lambda_sr, c.sr_start, c.sr_ramp)
        return TunitWeights(reg=c.lambda_reg, tri=c.lambda_tri, sr=sr, cont=c.lambda_cont, on=c.smoothing_on)

    def logged_weights(self, step: int) -> dict[str, float]:
        return {"weight/sr": self.loss_weights(step).sr}

    def _reduce(self, t: torch.Tensor) -> torch.Tensor:
        return all_reduce_mean(t, self.dist)

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        """Run iteration ``step`` on ``{"x", "x_aug", "x_ref"}``; return detached loss terms (no host sync)."""
        t, w = self.cfg.tunit, self.loss_weights(step)
        set_learning_rates(self.optims, self.cfg.train, step)
        C, C_ema = self.nets.style_encoder, self.ema.style_encoder
        x, x_aug, x_ref = batch["x"], batch["x_aug"], batch["x_ref"]
        n = x.size(0)
        out = {}
        # steps 2 and 3 (D, G) run in _gan_steps, from iteration tunit.separated on; step 4 ends this function

        # 1. guiding network: MoCo + IIC between x and its augmented view
        with torch.no_grad(), train_mode(C_ema), self.autocast():
            key = C_ema.style(x_aug).float()
        if self.queue.numel() == 0:  # TUNIT fills the queue with one batch of keys before training
            self.queue = all_gather_rows(key, self.dist)
        with self.autocast():
            q, logits = C.style_and_logits(torch.cat([x, x_aug]))
        q, logits = q.float()[:n], logits.float()
        probs = logits.softmax(1)
        l_moco = losses.contrastive_loss(q, key, self.queue, t.temperature)
        l_iic = losses.iic_loss(probs[:n], probs[n:])
        gan = step >= t.separated
        self.update([((t.guide_scale if gan else 1.0) * (l_moco + t.w_iic * l_iic), ["style_encoder"])],
                    ["style_encoder"])
        out.update({"C/moco": l_moco.detach(), "C/iic": l_iic.detach()})
        if gan:
            out.update(self._gan_steps(x, x_ref, w, step))
        self.queue = enqueue(self.queue, all_gather_rows(key, self.dist), t.queue_size)
        update_ema(C, C_ema, t.guide_ema)
        with torch.no_grad():
            s_ema, logits_ema = C_ema.style_and_logits(x)
            self.nets.mapping_network.update(s_ema.float(), logits_ema.argmax(1), self._reduce)
        update_ema(self.nets.mapping_network, self.ema.mapping_network)
        return out

    def _gan_steps(self, x: torch.Tensor, x_ref: torch.Tensor, w: "TunitWeights", step: int) -> dict[str, torch.Tensor]:
        """Steps 2 and 3 (D, then G with C) and G's EMA; returns their loss terms."""
        nets, t, n, out = self.nets, self.cfg.tunit, x.size(0), {}
        C, G, D, C_ema = nets.style_encoder, nets.generator, nets.discriminator, self.ema.style_encoder

        # the translation and reconstruction, made once with their graph: C and G do not change in the D step, so
        # D gets the same fake detached (TUNIT computes it twice). x_ref is a permutation of x, so the BatchNorm
        # statistics of the pair are x's alone.
        with self.autocast():
            s_pair, logits_pair = C.style_and_logits(torch.cat([x, x_ref]))
            y, y_ref = logits_pair.detach().argmax(1).split(n)  # pseudo-labels
            s_src, s_ref = s_pair.float().split(n)
            h, cache = G.encode_content(x)
            rows = torch.arange(n, device=x.device).repeat(2)
            x_fake, x_rec = G.decode_sources(h, cache, None, torch.cat([s_ref, s_src]), rows).float().split(n)

        # 2. D step: hinge loss on the references (real) and the translations (fake) under y_ref, R1 on the reals
        D.requires_grad_(True)
        x_real = x_ref.detach().requires_grad_(w.reg > 0)
        with self.autocast(enabled=False):
            d_real = D(x_real, y_ref)
            loss_real = losses.hinge_loss(d_real, "real")
            loss_reg = losses.r1_penalty(d_real, x_real) if w.reg > 0 else d_real.new_zeros(())
        with self.autocast():
            loss_fake = losses.hinge_loss(D(x_fake.detach(), y_ref).float(), "fake")
        self.update([(loss_real + loss_fake + w.reg * loss_reg, ["discriminator"])], ["discriminator"])
        D.requires_grad_(False)
        out.update({"D/real": loss_real.detach(), "D/fake": loss_fake.detach(), "D/reg": loss_reg.detach()})

        # 3. G step (G and C)
        with self.autocast():
            adv_fake, adv_rec = D(torch.cat([x_fake, x_rec]), torch.cat([y_ref, y])).float().split(n)
            s_fake = C.style(x_fake).float()
        with torch.no_grad(), train_mode(C_ema), self.autocast():
            key_ref = C_ema.style(x_ref).float()
        l_adv = losses.hinge_loss(adv_fake, "generator") + losses.hinge_loss(adv_rec, "generator")
        l_rec = (x_rec - x).abs().mean()
        l_vec = losses.contrastive_loss(s_fake, key_ref, self.queue, t.temperature)
        l_tri = l_sr = l_cont = x.new_zeros(())
        if "tri" in w.on:
            partner, has_partner = same_label_partner(y_ref)
            l_tri = losses.triplet_loss(s_ref, s_ref[partner], s_src, self.cfg.loss.tri_margin,
                                        has_partner & (y != y_ref))
        if "sr" in w.on:
            l_sr = losses.style_regularization(s_ref, s_src)
        if "cont" in w.on and self.lpips is not None:
            l_cont = losses.content_loss(self.lpips, x.float(), x_fake)
        loss = l_adv + t.w_rec * l_rec + t.w_vec * l_vec + w.tri * l_tri + w.sr * l_sr + w.cont * l_cont
        self.update([(loss, ["generator", "style_encoder"])], ["generator", "style_encoder"])
        out.update({f"G/{k}": v.detach() for k, v in
                    dict(adv=l_adv, rec=l_rec, vec=l_vec, tri=l_tri, sr=l_sr, cont=l_cont).items()})

        update_ema(G, self.ema.generator, self.cfg.train.ema_beta if step >= t.ema_start else 0.0)
        return out

    def state_dict(self) -> dict:
        """Optimiser and grad-scaler states and the MoCo queue (the weights are saved separately as safetensors)."""
        return {**super().state_dict(), "queue": self.queue.detach().cpu()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.queue = state["queue"].to(self.device)

