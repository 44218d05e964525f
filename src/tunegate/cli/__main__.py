"""``python -m tunegate.cli``: the same app as the ``tunegate`` console script."""

from tunegate.cli.main import app

app()
