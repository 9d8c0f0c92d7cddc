"""Training: one step function, EMA, schedules, checkpoint io, logging and the loop."""
from .checkpoint import CheckpointMismatchError, latest_checkpoint, load_checkpoint, save_checkpoint
from .loop import NonFiniteLossError, train
from .stargan_v2 import Trainer

__all__ = ["CheckpointMismatchError", "latest_checkpoint", "load_checkpoint", "save_checkpoint",
           "NonFiniteLossError", "train", "Trainer"]
