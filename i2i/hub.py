"""Share a model by name: the Hugging Face Hub layout (``save_pretrained`` / ``from_pretrained`` / ``push_to_hub``).

A saved model is one folder, as a Hub model repository holds it::

    config.yaml        the training Config (what the networks are)
    domains.json       {"domains": [name, ...]} in label order
    model.safetensors  the EMA networks G, M, E (no discriminator, no optimiser state)
    fan.safetensors    FAN face masks (face models only)
    README.md          model card: domains, size, the training config, the evaluation report when the run has one

:func:`resolve_model` finds the files of a model given as that folder, a ``file://`` URL of one (a mirror), a run
directory (optionally ``RUN:best``) or a Hub repository id (``user/name``, downloaded once with ``huggingface_hub``
into its cache; offline, only the cache is read and a missing model is one line naming it); :func:`load_networks`
builds its networks. This module sits below :mod:`i2i.inference` (``Translator.from_pretrained`` and
``save_pretrained`` call it) and never imports it: a "translator" here is anything with ``cfg``, ``domains``,
``nets``, ``fan`` and ``source``.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml
from safetensors.torch import save_file

from i2i import __version__
from i2i.config import Config, config_to_dict, load_config, save_config
from i2i.kinds import build_networks, model_kind
from i2i.models import Networks
from i2i.rundir import (BEST_SUFFIX, CHECKPOINTS, CONFIG_FILE, DOMAINS_FILE, EVAL_REPORT, FAN_FILE, atomic_write,
                        flat_state, load_flat_state, read_domains, read_weights, resolve_checkpoint, write_domains,
                        write_text)

MODEL_FILE, CARD_FILE = "model.safetensors", "README.md"
HUB_FILES = (CONFIG_FILE, DOMAINS_FILE, MODEL_FILE, FAN_FILE, CARD_FILE)


def save_pretrained(translator, folder: str | Path, report_md: str | None = None, overwrite: bool = False) -> Path:
    """Write ``translator``'s model in the Hub layout into ``folder`` (created); ``report_md``: an evaluation report
    (Markdown) for the model card, by default the run's own (:func:`run_report`) when the model came from a run
    directory that was evaluated. Returns ``folder``.

    A folder that holds files is refused unless ``overwrite`` (then the layout's files are replaced, others kept);
    a run directory is always refused: its config and domains belong to its checkpoints.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file, not a folder")
    if (folder / CHECKPOINTS).is_dir():
        raise FileExistsError(f"{folder} is a run directory: save the model to another folder (its {CONFIG_FILE} and "
                              f"{DOMAINS_FILE} belong to its checkpoints)")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder} is not empty: choose a new folder, or pass overwrite=True to replace its "
                              f"{', '.join(HUB_FILES)}")
    folder.mkdir(parents=True, exist_ok=True)
    save_config(translator.cfg, folder / CONFIG_FILE)
    write_domains(folder, translator.domains)
    state = flat_state(translator.nets)
    atomic_write(folder / MODEL_FILE, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))
    if translator.fan is not None:
        fan = {k: v.detach().cpu().contiguous() for k, v in translator.fan.state_dict().items()}
        atomic_write(folder / FAN_FILE, lambda tmp: save_file(fan, str(tmp)))
    if report_md is None:
        report_md = run_report(translator.source)
    write_text(folder / CARD_FILE, model_card(translator, report_md))
    return folder


def model_card(translator, report_md: str | None = None) -> str:
    """The model card (``README.md``) of a saved model: Hub metadata, what it translates, how to load it, the
    training config and, when given, the evaluation report."""
    m = translator.cfg.model
    parts = ["---", "library_name: i2i", "tags: [image-to-image, stargan-v2, style-interpolation]", "---", "",
             f"# i2i model: {', '.join(translator.domains)}", "",
             f"A {m.img_size} px {model_kind(m).title} model trained with i2i {__version__} "
             "(StarGAN v2 with the smooth-style-space losses of Liu et al., CVPR 2021).", "",
             "```python", "from i2i.inference import StyleSpec, Translator", "",
             "t = Translator.from_pretrained(\"THIS_REPO_OR_FOLDER\")",
             f"images = t.translate(\"photo.jpg\", StyleSpec(\"{translator.domains[-1]}\", seed=0))  # uint8 (N, 3, H, W)",
             "```", "", "## Training config", "", "```yaml",
             yaml.safe_dump(config_to_dict(translator.cfg), sort_keys=False).rstrip(), "```"]
    if report_md:
        parts += ["", "## Evaluation", "", report_md.replace("# Evaluation of", "Report of").rstrip()]
    return "\n".join(parts) + "\n"


def resolve_pretrained(name: str | Path, local_files_only: bool | None = None, revision: str | None = None) -> Path:
    """The local folder of a model given by folder, ``file://`` URL or Hub repository id (downloaded if needed)."""
    text = str(name)
    if text.startswith("file://"):
        path = Path(unquote(urlparse(text).path))
        if not path.is_dir():
            raise FileNotFoundError(f"{text}: no such folder")
        return path
    if Path(text.removesuffix(BEST_SUFFIX)).exists():
        return Path(text)
    if text.count("/") != 1 or text.startswith((".", "/")):
        raise FileNotFoundError(f"{text} is neither a folder nor a Hub repository id (user/name)")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(text, revision=revision, allow_patterns=list(HUB_FILES),
                                      local_files_only=bool(local_files_only)))
    except LocalEntryNotFoundError:
        raise FileNotFoundError(f"model {text} is not in the local Hugging Face cache and cannot be downloaded "
                                "(offline?): download it where there is a connection, or pass a folder") from None
    except HfHubHTTPError as err:  # no such repository, no access, a revision that does not exist
        raise FileNotFoundError(f"model {text}: {str(err).splitlines()[0]}") from None


def resolve_model(name: str | Path, local_files_only: bool | None = None,
                  revision: str | None = None) -> tuple[Path, Path]:
    """``(folder, weights)`` of a saved model folder, a ``file://`` URL, a run directory (``RUN``, ``RUN:best``, a
    checkpoint folder) or a Hub repository id: the folder holding ``config.yaml`` and ``domains.json``, and the EMA
    weights file."""
    folder = resolve_pretrained(name, local_files_only, revision)
    if (Path(folder) / MODEL_FILE).is_file():
        return Path(folder), Path(folder) / MODEL_FILE
    return resolve_checkpoint(folder)  # a run directory or checkpoint: the run's own reader


def load_networks(folder: str | Path, weights: str | Path) -> tuple[Config, list[str], Networks]:
    """The config, domain names and EMA networks (no discriminator; eval mode, no gradients) of the model described
    by ``folder`` (``config.yaml``, ``domains.json``) with the weights of ``weights``."""
    folder = Path(folder)
    cfg = load_config(folder / CONFIG_FILE)
    domains = read_domains(folder)
    nets = build_networks(cfg.model, len(domains), discriminator=False)
    load_flat_state(nets, read_weights(weights), str(weights))
    for _, net in nets.items():
        net.eval().requires_grad_(False)
    return cfg, domains, nets


def push_to_hub(translator, repo_id: str, token: str | None = None, private: bool = False,
                report_md: str | None = None) -> str:
    """Save the model in the Hub layout and upload it to ``repo_id`` (created if missing); returns the commit URL.
    Needs a connection and a write token (``huggingface-cli login`` or ``token``)."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(translator, tmp, report_md)
        return str(api.upload_folder(repo_id=repo_id, folder_path=tmp, commit_message="i2i model"))


def run_report(source: str | Path) -> str | None:
    """The evaluation report (Markdown, ``RUN/eval/report.md`` as ``i2i eval`` writes it) of the run directory that
    holds ``source`` (the run, a checkpoint folder or weights file inside it), or None: no run, or not evaluated."""
    path = Path(source)
    for folder in (path, *path.parents):
        if (folder / CHECKPOINTS).is_dir():
            report = (folder / EVAL_REPORT).with_suffix(".md")
            return report.read_text() if report.is_file() else None
    return None

