"""torch.hub entry points: ``torch.hub.load("OWNER/i2i", "translator", path=...)`` (or ``source="local"`` on a clone)."""
dependencies = ["torch", "torchvision", "safetensors", "yaml", "PIL"]


def translator(path: str, device: str = "cpu"):
    """A trained i2i model as an :class:`i2i.inference.Translator`: a saved folder (``save_pretrained``), a ``file://``
    URL of one, a run directory (``RUN:best`` too) or a Hugging Face Hub repository id."""
    from i2i.inference import Translator

    return Translator.from_pretrained(path, device)
