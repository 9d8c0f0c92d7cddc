"""Data: StarGAN v2 folder datasets, per-iteration training batches, the synthetic dataset."""
from .dataset import DatasetLayoutError, DomainImages, scan_split
from .sampler import TrainBatches, iteration_generator
from .synthetic import make_synthetic

__all__ = ["DatasetLayoutError", "DomainImages", "scan_split", "TrainBatches", "iteration_generator",
           "make_synthetic"]
