"""The prompting gate: prompt strategies, candidate racing and the sprint (``tunegate sprint``)."""
