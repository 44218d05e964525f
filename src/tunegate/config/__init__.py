"""The spec's stage sections as pydantic models: a leaf package (it imports nothing else from tunegate but
``errors``), so ``spec`` can import every section without the stage subpackages importing ``spec`` back in a
circle. Each stage reads its own section from here: ``costs`` (the cost model's inputs), ``check_eval`` (the
criterion gate), ``sprint`` (the prompting gate), ``monitor`` (monitoring)."""
