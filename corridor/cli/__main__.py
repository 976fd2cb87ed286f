"""``python -m corridor.cli``: the command line, as the ``corridor`` script runs it."""

from corridor.cli import main

main()
