"""Training: one step function, EMA, schedules, checkpoint io, logging and the loop."""
from i2i.training.checkpoint import CheckpointMismatchError, latest_checkpoint, load_checkpoint, save_checkpoint
from i2i.training.loop import NonFiniteLossError, train
from i2i.training.stargan_v2 import Trainer

__all__ = ["CheckpointMismatchError", "latest_checkpoint", "load_checkpoint", "save_checkpoint",
           "NonFiniteLossError", "train", "Trainer"]
