"""``python -m tokenfab``: the same as the ``tokenfab`` console script."""
import sys

from tokenfab.cli import main

sys.exit(main())
