"""``python -m i2i`` (also what ``torchrun -m i2i`` runs)."""
import sys

from .cli import main

sys.exit(main())
