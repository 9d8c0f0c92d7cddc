"""Cluster quality against true domains: accuracy under the best one-to-one matching (Hungarian) and NMI."""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


def contingency(pred: torch.Tensor, true: torch.Tensor) -> np.ndarray:
    """Counts ``M[k, c]`` of images in cluster k with true domain c."""
    pred, true = np.asarray(pred, dtype=np.int64), np.asarray(true, dtype=np.int64)
    table = np.zeros((pred.max() + 1, true.max() + 1), dtype=np.int64)
    np.add.at(table, (pred, true), 1)
    return table


def cluster_accuracy(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Share of images whose cluster is matched to their true domain, under the one-to-one cluster-to-domain
    matching that maximises it (Hungarian; with more clusters than domains the extra clusters count as wrong)."""
    table = contingency(pred, true)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / table.sum())


def normalized_mutual_info(pred: torch.Tensor, true: torch.Tensor) -> float:
    """``I(pred; true) / sqrt(H(pred) H(true))`` (natural logs; 1 for identical partitions up to renaming, 1 when
    both are a single cluster)."""
    joint = contingency(pred, true) / len(pred)
    p, q = joint.sum(1), joint.sum(0)
    nz = joint > 0
    mi = float((joint[nz] * np.log(joint[nz] / np.outer(p, q)[nz])).sum())
    h_p, h_q = (float(-(v[v > 0] * np.log(v[v > 0])).sum()) for v in (p, q))
    return 1.0 if h_p == 0 and h_q == 0 else mi / max(np.sqrt(h_p * h_q), 1e-12)
