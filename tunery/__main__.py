"""``python -m tunery`` runs the command line."""

from __future__ import annotations

from tunery.cli import main

if __name__ == "__main__":
    main()
