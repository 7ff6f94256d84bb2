"""``python -m toolkit``: the same command line as ``redriva-toolkit``."""
from toolkit.cli import main

main()
