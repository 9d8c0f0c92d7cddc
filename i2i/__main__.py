"""``python -m i2i`` (also what ``torchrun -m i2i`` runs)."""
import sys

from i2i.cli import main

sys.exit(main())
