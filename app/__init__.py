"""Gradio interpolation app: arrives with the inference/app issue."""
