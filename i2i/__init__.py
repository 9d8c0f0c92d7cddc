"""i2i: multi-domain, multi-modal image-to-image translation with a smooth latent style space."""
__version__ = "0.1.0"
