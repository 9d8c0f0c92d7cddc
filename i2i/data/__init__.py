"""Data: StarGAN v2 folder datasets, per-iteration training batches, the synthetic dataset."""
from i2i.data.dataset import DatasetLayoutError, DomainImages, scan_split
from i2i.data.sampler import TrainBatches, iteration_generator
from i2i.data.synthetic import make_synthetic

__all__ = ["DatasetLayoutError", "DomainImages", "scan_split", "TrainBatches", "iteration_generator",
           "make_synthetic"]
