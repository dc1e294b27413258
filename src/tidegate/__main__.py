"""``python -m tidegate`` runs the CLI, as the ``tidegate`` console script does."""

from tidegate.app.cli import main

main()
