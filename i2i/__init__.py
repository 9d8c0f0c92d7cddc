"""i2i: multi-domain, multi-modal image-to-image translation with a smooth latent style space.

The top-level ``app/`` and ``evaluation/`` folders of the source tree install as ``i2i.app`` and ``i2i.evaluation``
(pyproject's ``package-dir``, for wheels and editable installs alike).
"""

__version__ = "0.1.0"
