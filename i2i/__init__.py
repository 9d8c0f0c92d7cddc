"""i2i: multi-domain, multi-modal image-to-image translation with a smooth latent style space."""
import os as _os

__version__ = "0.1.0"

# app/ and evaluation/ sit beside i2i/ in the source tree (the project's top-level layout) and are the subpackages
# i2i.app and i2i.evaluation: a wheel installs them inside i2i/ (pyproject's package-dir), and from a checkout the
# folder above is searched for them too. Nothing imports them under another name.
_tree = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_tree, "pyproject.toml")) and _os.path.isdir(_os.path.join(_tree, "evaluation")):
    __path__.append(_tree)  # noqa: F821 (a package's own __path__)
