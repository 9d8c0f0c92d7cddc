"""Gradio app: intra- and inter-domain style interpolations and translation grids of a trained run."""
from i2i.app.main import build_demo, launch

__all__ = ["build_demo", "launch"]
