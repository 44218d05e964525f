"""Interop with the tools teams already use: Inspect AI and promptfoo results in, fine-tuning files and labeling
queues (Label Studio, Argilla) out. Each module reads or writes one family of formats; see docs/interop.md."""
