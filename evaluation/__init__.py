"""Evaluation metrics with the paper's protocols: FID, LPIPS diversity, FRD and Perceptual Smoothness (PS).

One module per metric holds pure functions on tensors or features (``fid``, ``lpips_diversity``, ``frd``,
``ps``, ``content``, ``domain_accuracy``); ``metrics`` registers one scoring function per metric;
``protocols`` generates the images; ``evaluate`` runs every task; ``report`` writes JSON/Markdown.
"""
from i2i.evaluation.evaluate import EvalSettings, evaluate
from i2i.evaluation.report import write_report

__all__ = ["EvalSettings", "evaluate", "write_report"]
