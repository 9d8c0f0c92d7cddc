"""Evaluation metrics (FID, LPIPS diversity, FRD, Perceptual Smoothness): arrives with the evaluation issue."""
