"""``python -m docgap.cli``: the same program as the ``docgap`` script."""

from docgap.cli import main

main()
