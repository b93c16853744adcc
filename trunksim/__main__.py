"""``python -m trunksim``: the command line."""

from trunksim.cli import main

main()
