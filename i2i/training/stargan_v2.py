"""StarGAN v2 training (``model.kind: stargan_v2``): labelled domains, the paper's losses on StarGAN v2's step."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from i2i.config import Config
from i2i.data import DatasetLayoutError, DomainImages, TrainBatches
from i2i.models.fan import load_fan
from i2i.rundir import FAN_FILE, write_weights
from i2i.training.distributed import DistInfo
from i2i.training.ema import update_ema
from i2i.training.samples import write_sample_grids
from i2i.training.schedules import ds_weight, ramp_weight
from i2i.training.stargan_v2_losses import LossWeights, discriminator_fakes, discriminator_loss, generator_loss, translate
from i2i.training.trainer import TrainerBase, compile_in_place, set_learning_rates

log = logging.getLogger(__name__)


class Trainer(TrainerBase):
    """One StarGAN v2 + smoothing iteration, as in StarGAN v2's solver.

    Per iteration: D step with a latent-code fake, D step with a reference fake, G step with latent
    styles (updates G, M and E), G step with reference styles (updates G; and E through the triplet
    and SR terms when ``loss.smooth_trains_encoder``, through the adversarial term when
    ``loss.reference_trains_encoder``), then the EMA update of G, M and E.

    G, M and E do not change before the latent G step, so its translation ``G(x, M(z1, y_trg))`` is made
    once, with its graph, at the start: the latent D step gets it detached, and the reference D fake is
    decoded from the same encoded source (:func:`discriminator_fakes`). StarGAN v2 computes both afresh;
    the values are the same, a generator and an encoder pass are saved.
    """

    optimized = ("generator", "mapping_network", "style_encoder", "discriminator")
    progress_keys = {"D_real": "D/latent/real", "G_adv": "G/latent/adv", "cyc": "G/latent/cyc", "tri": "G/latent/tri",
                     "cont": "G/latent/cont"}

    def __init__(self, cfg: Config, num_domains: int, device: torch.device, dist_info: DistInfo = DistInfo()):
        t = cfg.train
        if cfg.model.w_hpf > 0:
            if not t.fan_weights:
                raise ValueError(f"model.w_hpf={cfg.model.w_hpf:g} needs FAN face masks: set train.fan_weights to "
                                 "StarGAN v2's wing.ckpt (or a run's fan.safetensors)")
            if not Path(t.fan_weights).is_file():
                raise FileNotFoundError(
                    f"train.fan_weights={t.fan_weights} does not exist: the FAN face-mask network of model.w_hpf > 0 "
                    "is StarGAN v2's wing.ckpt (fetch it with StarGAN v2's `bash download.sh wing`, or from "
                    "https://www.dropbox.com/s/tjxpypwpt38926e/wing.ckpt?dl=0) and pass its path")
        super().__init__(cfg, num_domains, device, dist_info)
        self.channels_last = t.channels_last
        if t.channels_last:
            for nets in (self.nets, self.ema):
                for _, net in nets.items():
                    net.to(memory_format=torch.channels_last)
        if t.compile:  # in place, so state-dict names do not change; D is left eager: R1 needs double backward
            for name in ("generator", "mapping_network", "style_encoder"):
                compile_in_place(getattr(self.nets, name))
        self.fan = load_fan(t.fan_weights, device) if cfg.model.w_hpf > 0 else None

    @classmethod
    def load_data(cls, cfg: Config, progress: bool) -> tuple[DomainImages, DomainImages]:
        """The training images and the validation images for sample grids (the training ones without ``val/``)."""
        images = DomainImages(cfg.data.root, "train", cfg.model.img_size, cfg.data.cache_images, progress)
        for name, count in zip(images.domains, images.counts.tolist()):
            if count < 2:
                log.warning("domain %s has %d training image: each step draws two references of a domain, which "
                            "will be the same image (the diversity term then compares a translation with itself)",
                            name, count)
        val_dir = Path(cfg.data.root) / "val"
        val = DomainImages(cfg.data.root, "val", cfg.model.img_size, cfg.data.cache_images, progress) \
            if val_dir.is_dir() else images
        if val.domains != images.domains:
            raise DatasetLayoutError(f"{val_dir} has domains {val.domains} but {Path(cfg.data.root) / 'train'} has "
                                     f"{images.domains}: val/ must hold the same domain folders as train/ (or be "
                                     "removed, and the sample grids use training images)")
        return images, val

    @classmethod
    def domain_names(cls, cfg: Config, images: DomainImages) -> list[str]:
        return images.domains

    def batches(self, images: DomainImages, rank: int, world_size: int) -> TrainBatches:
        c = self.cfg
        return TrainBatches(images, c.train.batch_size, c.model.latent_dim, c.train.seed, c.data.randcrop_prob,
                            c.train.total_iters, rank, world_size, c.data.hflip)

    def samples(self, val: DomainImages, out_dir: Path, step: int) -> tuple[dict[str, torch.Tensor], dict]:
        return write_sample_grids(self.ema, val, out_dir, step, self.cfg.model.latent_dim, self.device, self.fan), {}

    def loss_weights(self, step: int) -> LossWeights:
        """Loss weights at ``step`` (decayed ds, ramped SR)."""
        c = self.cfg.loss
        return LossWeights(reg=c.lambda_reg, sty=c.lambda_sty, ds=ds_weight(step, c.lambda_ds, c.ds_iter),
                       cyc=c.lambda_cyc, tri=c.lambda_tri, sr=ramp_weight(step, c.lambda_sr, c.sr_start, c.sr_ramp),
                       cont=c.lambda_cont, recoloured=c.lambda_recoloured,
                       recolour_negatives=c.recolour_negatives, tri_margin=c.tri_margin,
                       on=c.smoothing_on)

    def to_device(self, batch: dict) -> dict:
        """The batch on the device; images NHWC under ``train.channels_last``."""
        batch = super().to_device(batch)
        if self.channels_last:
            nhwc = torch.channels_last
            batch = {k: v.contiguous(memory_format=nhwc) if v.dim() == 4 else v for k, v in batch.items()}
        return batch

    def logged_weights(self, step: int) -> dict[str, float]:
        w = self.loss_weights(step)
        return {"weight/ds": w.ds, "weight/sr": w.sr}

    def write_run_files(self, run_dir: Path) -> None:
        """The FAN face-mask network of face models (``fan.safetensors``): their inference needs it too."""
        if self.fan is not None and not (run_dir / FAN_FILE).is_file():
            write_weights(run_dir / FAN_FILE, self.fan)

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        """Run iteration ``step`` on a device batch; return detached loss terms (no host sync)."""
        w, nets, cfg = self.loss_weights(step), self.nets, self.cfg.loss
        set_learning_rates(self.optims, self.cfg.train, step)
        masks = self.fan.face_masks(batch["x_src"]) if self.fan is not None else None
        out = {}
        latent = translate(nets, batch, "latent", self.autocast, masks)
        fakes = discriminator_fakes(nets, batch, latent, self.autocast, masks)
        nets.discriminator.requires_grad_(True)
        for mode in ("latent", "reference"):
            loss, terms = discriminator_loss(nets, batch, fakes[mode], w, self.autocast)
            self.update([(loss, ["discriminator"])], ["discriminator"])
            out.update({f"D/{mode}/{k}": v for k, v in terms.items()})
        nets.discriminator.requires_grad_(False)  # G steps need gradients through D, not into it
        gme = ["generator", "mapping_network", "style_encoder"]
        for mode in ("latent", "reference"):
            main, smooth, terms, adv = generator_loss(nets, batch, mode, w, self.autocast, self.lpips, masks,
                                                      self.fan, latent if mode == "latent" else None)
            if mode == "latent":
                self.update([(main if smooth is None else main + smooth, gme)], gme)
            else:  # StarGAN v2 / the authors' code step G only; E only with the terms the config routes to it
                encoder = [adv] if cfg.reference_trains_encoder else []
                if cfg.smooth_trains_encoder and smooth is not None:
                    encoder.append(smooth)
                if encoder:
                    self.update([(main, ["generator"]), (sum(encoder), ["style_encoder"])],
                                ["generator", "style_encoder"])
                else:
                    self.update([(main, ["generator"])], ["generator"])
            out.update({f"G/{mode}/{k}": v for k, v in terms.items()})
        for name, ema_net in self.ema.items():
            update_ema(getattr(nets, name), ema_net, self.cfg.train.ema_beta)
        return out
