"""The run directory: the one place that knows its file names, reads its files and writes files atomically.

Layout (written by ``i2i train`` and ``i2i convert``, read by inference, evaluation and the app)::

    RUN/config.yaml                 the full Config
    RUN/domains.json                {"domains": [name, ...]} in label order
    RUN/fan.safetensors             FAN face-mask network (face models, ``model.w_hpf > 0``)
    RUN/checkpoints/latest          names the newest complete checkpoint
    RUN/checkpoints/best.json       the checkpoint with the best tracked metric (train.eval_every), its value and
                                    step: one file, replaced atomically, so name and record never disagree
    RUN/checkpoints/step_NNNNNNN/   nets.safetensors (G, M, E, D), nets_ema.safetensors (EMA G, M, E),
                                    state.pt (optimisers; training only, see i2i.training.checkpoint)
    RUN/.lock                       held (a POSIX record lock) by the one process writing the run; names it

Every file is written atomically (:func:`atomic_write`) with the permissions the user's umask gives a new file, so a
run made by one user loads for another who may read the folder.

Nothing here imports the training stack, so inference, evaluation and the app load without it.
"""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import torch
from safetensors.torch import load_file, save_file
from torch import nn

CONFIG_FILE, DOMAINS_FILE, FAN_FILE = "config.yaml", "domains.json", "fan.safetensors"
CHECKPOINTS, LATEST, LOCK_FILE = "checkpoints", "latest", ".lock"
BEST_FILE = "best.json"  # RUN/checkpoints/best.json: the best checkpoint's name, its metric, value and step
LEGACY_BEST = "best"  # the name-only pointer of runs written before best.json held the name
TEMP_SUFFIX = ".tmp"  # atomic_write's temporary files (".NAME.XXXX.tmp"), removed when a writer dies
MAX_DOMAINS, MAX_DOMAIN_NAME = 1024, 200  # domains.json bounds, checked before anything is built
BEST_SUFFIX = ":best"  # --checkpoint RUN:best names the checkpoint with the best tracked metric
NETS_FILE, EMA_FILE, STATE_FILE = "nets.safetensors", "nets_ema.safetensors", "state.pt"
EVAL_REPORT = "eval/report.json"  # i2i eval's report of a run (report.md beside it)
CHECKPOINT_PREFIX = "step_"  # RUN/checkpoints/step_0001000: the checkpoint of iteration 1000
PARTIAL_PREFIX = ".tmp_"  # a checkpoint being written (.tmp_step_0001000_XXXX), removed at the next start
CORRUPT_PREFIX = "corrupt_"  # a checkpoint that failed to load, moved aside (corrupt_step_0001000)


def checkpoint_name(step: int) -> str:
    """The folder name of iteration ``step``'s checkpoint (zero-padded, so names sort by step)."""
    return f"{CHECKPOINT_PREFIX}{step:07d}"

log = logging.getLogger(__name__)


class CheckpointMismatchError(ValueError):
    """A checkpoint's tensors do not fit the configured networks."""


class CorruptCheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt, or not a weights-only file."""


class FolderInUseError(RuntimeError):
    """Another process holds the folder's lock: one writer per run directory (or output folder)."""


_HELD: set[Path] = set()  # folders whose lock this process holds (a nested writer of the same run passes)


@contextlib.contextmanager
def exclusive_writer(folder: str | Path, what: str) -> Iterator[None]:
    """Hold ``folder/.lock`` (an advisory POSIX record lock, ``fcntl.lockf``, released by the kernel when the
    process dies) while the block writes the folder; the file names the holder (pid, host, ``what``, start time).

    A record lock belongs to the process, not to the open file: data-loader workers forked by the holder do not
    inherit it, so a trainer killed with ``kill -9`` frees its run at once even while its orphaned workers live on
    (``flock`` would stay held by them).

    A second process gets :class:`FolderInUseError` naming the holder at once. A lock file left with a holder's
    name by a process that died (a crash, ``kill -9``) is free and is taken over with a warning. A folder the block
    created and left empty (a refused run) is removed again. Nested calls
    for the same folder in the holding process pass through. Where ``fcntl`` is missing (Windows) the block runs
    unlocked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        yield
        return
    folder = Path(folder).resolve()
    if folder in _HELD:
        yield
        return
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a+") as f:
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise FolderInUseError(f"{folder} is in use by {holder}: one writer at a time (wait for it to finish, "
                                   "or choose another folder)") from None
        f.seek(0)
        stale = f.read().strip()
        if stale:
            log.warning("%s: taking over the lock of %s, which ended without releasing it", folder, stale)
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()} ({what}, since {time.strftime('%Y-%m-%d %H:%M:%S')})\n")
        f.flush()
        _HELD.add(folder)
        try:
            yield
        finally:
            _HELD.discard(folder)
            f.seek(0)
            f.truncate()  # an empty lock file: released cleanly
            f.flush()
            if created and [p.name for p in folder.iterdir()] == [LOCK_FILE]:  # a writer that wrote nothing
                (folder / LOCK_FILE).unlink()
                folder.rmdir()
            fcntl.lockf(f, fcntl.LOCK_UN)


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask (read by setting it and setting it back, under a lock: the app writes from threads, and
    two unlocked reads could leave the process with the probe's value)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def apply_umask(path: str | Path, directory: bool = False) -> None:
    """Give ``path`` the mode a plain ``open``/``mkdir`` would have (0666 or 0777 less the umask): ``mkstemp`` and
    ``mkdtemp`` create 0600 / 0700, which would hide a run from every other user."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``: readers see the old
    file or the whole new one, never a partial one (also when ``write`` raises or the process is killed). The file
    gets the permissions of the user's umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        apply_umask(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Atomically write a text file."""
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def write_json(path: str | Path, data) -> Path:
    """Atomically write ``data`` as indented JSON."""
    return write_text(path, json.dumps(data, indent=2) + "\n")


def write_domains(run_dir: str | Path, domains: list[str]) -> Path:
    """``RUN/domains.json``: the domain names in label order."""
    check_domain_names(list(domains), str(Path(run_dir) / DOMAINS_FILE))
    return write_json(Path(run_dir) / DOMAINS_FILE, {"domains": list(domains)})


def read_domains(run_dir: str | Path) -> list[str]:
    """The domain names of a run, in label order; a malformed file is one ValueError naming it."""
    path = Path(run_dir) / DOMAINS_FILE
    if path.is_file() and path.stat().st_size > MAX_DOMAINS * (MAX_DOMAIN_NAME + 8):
        raise ValueError(f"{path} is {path.stat().st_size} bytes: more than {MAX_DOMAINS} domain names fit in")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}): expected {{\"domains\": [\"name\", ...]}}") from None
    domains = data.get("domains") if isinstance(data, dict) else None
    if not isinstance(domains, list) or len(domains) < 2 or not all(isinstance(d, str) and d for d in domains):
        raise ValueError(f"{path} must hold {{\"domains\": [\"name\", ...]}} with at least two names, got "
                         f"{json.dumps(data)[:80]}")
    check_domain_names(domains, str(path))
    return domains


def check_domain_names(domains: list[str], where: str) -> None:
    """Domain names are looked up by name: refuse duplicates, blanks and more than the bounds allow."""
    if len(domains) > MAX_DOMAINS:
        raise ValueError(f"{where}: {len(domains)} domains, more than the {MAX_DOMAINS} supported")
    long = [d for d in domains if len(d) > MAX_DOMAIN_NAME or not d.strip()]
    if long:
        raise ValueError(f"{where}: domain names must be 1-{MAX_DOMAIN_NAME} visible characters, got "
                         f"{long[0][:40]!r}")
    seen = set()
    duplicates = sorted({d for d in domains if d in seen or seen.add(d)})
    if duplicates:
        raise ValueError(f"{where}: domain names must be unique, {', '.join(map(repr, duplicates[:5]))} "
                         "appear more than once")


def write_weights(path: str | Path, module: nn.Module) -> Path:
    """Atomically write a module's state dict as safetensors (contiguous CPU copies)."""
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    return atomic_write(path, lambda tmp: save_file(state, str(tmp)))


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, or CorruptCheckpointError naming the file."""
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise CorruptCheckpointError(f"{path} is missing") from None
    except Exception as err:  # safetensors raises SafetensorError / OSError for truncated or corrupt files
        raise CorruptCheckpointError(f"{path} is unreadable (truncated or corrupt: {err})") from None


def describe_mismatch(model: nn.Module, state: dict[str, torch.Tensor], name: str) -> list[str]:
    """Human-readable differences between a module's state dict and ``state`` (by name and shape)."""
    own = model.state_dict()
    lines = [f"{name}.{k}: missing from the checkpoint" for k in own if k not in state]
    lines += [f"{name}.{k}: in the checkpoint but not in the model" for k in state if k not in own]
    lines += [f"{name}.{k}: shape {tuple(state[k].shape)} in the checkpoint, {tuple(v.shape)} in the model"
              for k, v in own.items() if k in state and state[k].shape != v.shape]
    return lines


def flat_state(nets) -> dict[str, torch.Tensor]:
    """``{"generator.from_rgb.weight": tensor, ...}`` over the networks present of an ``i2i.models.Networks``
    (contiguous CPU copies): the layout of every weights file of a run."""
    return {f"{name}.{k}": v.detach().cpu().contiguous() for name, net in nets.items()
            for k, v in net.state_dict().items()}


def load_flat_state(nets, flat: dict[str, torch.Tensor], source: str) -> None:
    """Load ``{"generator.from_rgb.weight": tensor, ...}`` into ``nets`` (an ``i2i.models.Networks``); raise
    CheckpointMismatchError naming every difference."""
    problems, per_net = [], {}
    for name, net in nets.items():
        prefix = name + "."
        part = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
        problems += describe_mismatch(net, part, name)
        per_net[name] = part
    if problems:
        shown = "\n  ".join(problems[:12]) + (f"\n  ... and {len(problems) - 12} more" if len(problems) > 12 else "")
        raise CheckpointMismatchError(
            f"{source} does not fit the configured networks:\n  {shown}\n"
            "Check model.img_size, model.max_conv_dim, model.base_dim, model.style_dim, model.latent_dim, "
            f"model.hidden_dim, model.w_hpf and the number of domains against the run's {CONFIG_FILE}.")
    for name, net in nets.items():
        net.load_state_dict(per_net[name])


def complete_checkpoints(run_dir: str | Path) -> list[Path]:
    """Checkpoint folders holding all three files, newest first (interrupted saves never qualify)."""
    root = Path(run_dir) / CHECKPOINTS
    folders = [p for p in root.glob(f"{CHECKPOINT_PREFIX}*")
               if all((p / f).is_file() for f in (NETS_FILE, EMA_FILE, STATE_FILE))]
    return sorted(folders, key=lambda p: p.name, reverse=True)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint named by ``RUN/checkpoints/latest``; when that pointer is missing or names an incomplete
    or deleted folder, the newest complete checkpoint (with a warning); None when there is none."""
    root = Path(run_dir) / CHECKPOINTS
    pointer = root / LATEST
    complete = complete_checkpoints(run_dir)
    if pointer.is_file():
        named = root / pointer.read_text().strip()
        if named in complete:
            return named
        if complete:
            log.warning("%s names %s, which is not a complete checkpoint: using %s", pointer, named.name,
                        complete[0].name)
    return complete[0] if complete else None


def read_best(run_dir: str | Path) -> dict | None:
    """``RUN/checkpoints/best.json`` (``checkpoint``, ``metric``, ``value``, ``step``), or None when the run has no
    readable record; a run of an older layout keeps its name-only ``best`` pointer."""
    root = Path(run_dir) / CHECKPOINTS
    try:
        record = json.loads((root / BEST_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        record = None
    if isinstance(record, dict) and isinstance(record.get("checkpoint"), str):
        return record
    legacy = root / LEGACY_BEST
    return {"checkpoint": legacy.read_text().strip()} if legacy.is_file() else None


def write_best(run_dir: str | Path, record: dict) -> Path:
    """Record the best checkpoint (its name and metric together, one atomic write); drop an older layout's
    separate pointer."""
    root = Path(run_dir) / CHECKPOINTS
    path = write_json(root / BEST_FILE, record)
    (root / LEGACY_BEST).unlink(missing_ok=True)
    return path


def best_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint named by ``RUN/checkpoints/best.json`` (the best tracked metric so far), or None."""
    record = read_best(run_dir)
    if record is None:
        return None
    named = Path(run_dir) / CHECKPOINTS / Path(record["checkpoint"]).name
    return named if named in complete_checkpoints(run_dir) else None


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Delete the temporary files of atomic writes that a killed writer left in ``folder``; return them."""
    stale = sorted(p for p in Path(folder).glob(f".*{TEMP_SUFFIX}") if p.is_file())
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def resolve_checkpoint(path: str | Path) -> tuple[Path, Path]:
    """``(run_dir, weights_file)`` for a run directory (``RUN:best``: its checkpoint with the best tracked metric),
    a checkpoint folder or a ``nets_ema.safetensors`` file."""
    text = str(path)
    if text.endswith(BEST_SUFFIX):
        run_dir = Path(text.removesuffix(BEST_SUFFIX))
        folder = best_checkpoint(run_dir)
        if folder is None:
            raise FileNotFoundError(f"{run_dir} has no best checkpoint: train it with train.eval_every > 0 and "
                                    "train.best_metric (e.g. --set train.eval_every=250 --set "
                                    "train.best_metric=gt_nearest_iou:max)")
        return resolve_checkpoint(folder)
    path = Path(path)
    if path.is_file() and path.suffix != ".safetensors":
        raise ValueError(f"{path} is not a weights file: pass the run directory ({path.parent}), a checkpoint "
                         f"folder or its {EMA_FILE}")
    if path.is_file():
        weights, run_dir = path, path.parent.parent.parent
    elif (path / EMA_FILE).is_file():
        weights, run_dir = path / EMA_FILE, path.parent.parent
    elif path.is_dir():
        folder = latest_checkpoint(path)
        if folder is None:
            raise FileNotFoundError(f"{path} holds no checkpoint: expected RUN/{CHECKPOINTS}/{LATEST} "
                                    f"(train one with `i2i train`) or a checkpoint folder with {EMA_FILE}")
        weights, run_dir = folder / EMA_FILE, path
    else:
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if not (run_dir / CONFIG_FILE).is_file() or not (run_dir / DOMAINS_FILE).is_file():
        raise FileNotFoundError(f"{run_dir} lacks {CONFIG_FILE} or {DOMAINS_FILE}: pass a run directory written by "
                                "`i2i train` (or a checkpoint inside one)")
    return run_dir, weights
