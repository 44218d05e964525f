"""tunegate: keep prompting, or fine-tune? Evidence for the decision, on your data, models and prices."""

__version__ = "0.1.0"
