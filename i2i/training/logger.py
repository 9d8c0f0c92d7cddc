"""Run logging: JSONL of every loss term, TensorBoard scalars and images."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from i2i.rundir import write_text

log = logging.getLogger(__name__)


def truncate_log(path: Path, last_step: int) -> None:
    """Keep only the complete records of ``path`` with ``step <= last_step`` (and other whole lines), atomically.

    A last line without its newline (a crash mid-write) is dropped, so the next record does not glue onto it, and
    so are lines that are not UTF-8; each drop is a warning naming the file.
    """
    if not path.is_file():
        return
    raw = path.read_bytes().splitlines(keepends=True)
    kept = []
    for number, line in enumerate(raw, 1):
        if not line.endswith(b"\n"):
            log.warning("%s: dropped a partial last line (%d bytes), left by an interrupted write", path, len(line))
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            log.warning("%s: dropped line %d, which is not UTF-8 text", path, number)
            continue
        try:
            if int(json.loads(text)["step"]) > last_step:
                continue
        except (ValueError, KeyError, TypeError):
            pass  # a line that is not a record is kept as it is
        kept.append(text)
    if len(kept) != len(raw):
        write_text(path, "".join(kept))


class RunLogger:
    """Append ``{"step", "time", ...terms}`` lines to ``RUN/log.jsonl`` and mirror them to TensorBoard.

    On resume, records and TensorBoard events after ``start_step`` are dropped, so the steps redone after an
    interruption are logged once and curves do not double back.
    """

    def __init__(self, run_dir: str | Path, start_step: int = 0, tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        path = self.run_dir / "log.jsonl"
        truncate_log(path, start_step)
        self.jsonl = open(path, "a", buffering=1)
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=start_step or None)
            except ImportError:  # tensorboard is a declared dependency; tolerate its absence anyway
                log.warning("tensorboard not installed: logging to log.jsonl only")

    def scalars(self, step: int, values: dict[str, float]) -> None:
        self.jsonl.write(json.dumps({"step": step, "time": round(time.time(), 3), **values}) + "\n")
        if self.tb is not None:
            for key, value in values.items():
                self.tb.add_scalar(key, value, step)

    def image(self, tag: str, step: int, image_chw_uint8) -> None:
        if self.tb is not None:
            self.tb.add_image(tag, image_chw_uint8, step)

    def close(self) -> None:
        self.jsonl.close()
        if self.tb is not None:
            self.tb.close()
