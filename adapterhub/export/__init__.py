"""Adapters out of and into the registry: plain PEFT directories, merged models, vLLM, Hugging Face model cards,
imports from PEFT directories and the Hub, and attaching a stored adapter to a user's own PEFT model.

The registry stores; this package reads its records and writes other formats (and the reverse for imports).
"""
