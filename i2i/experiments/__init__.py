"""Experiments that train or probe models, above training and evaluation: the paper's ablation, the D probe."""
