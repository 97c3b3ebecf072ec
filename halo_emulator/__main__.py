"""`python -m halo_emulator`: run the emulator from the command line (see cli.py)."""

from __future__ import annotations

import sys

from halo_emulator.cli import main

sys.exit(main())
