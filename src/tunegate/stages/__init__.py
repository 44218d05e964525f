"""Pipeline stages as plug-ins: ``base`` holds the Stage protocol and the ordered registry (a leaf that imports no
stage), ``builtin`` registers the eight built-in stages. Nothing is imported here, so ``tunegate.stages.base``
stays cheap for a plug-in author; ``tunegate.pipeline`` imports ``builtin``."""
