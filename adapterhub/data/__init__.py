"""Training data for tasks: files, folders or ``hf:NAME[:CONFIG]`` read into examples and checked before training.

Formats, chosen by extension:

- ``.csv`` / ``.tsv``: a header row, then one example a row (a ``.tsv`` has no quoting, as in GLUE).
- ``.jsonl`` / ``.json``: JSON lines, one object a line (a ``.json`` file may also hold one array of objects).
- ``.conll`` / ``.bio``, and any other extension for kind ``tokens``: one ``token<TAB or spaces>TAG`` a line, the
  token the first field and the tag the last, sentences split by empty or whitespace-only lines.
- ``.txt`` and any other extension: ``<label> <text>`` lines for kind ``text`` (the SST format), one plain-text
  example a line for kind ``generation``.

Files are decoded as strict UTF-8 and split on ``\\n`` only; every problem becomes one :class:`ConfigError` of
one line that names the file, the line and the fix, with several problems of one source reported together.
This package imports neither torch nor transformers; ``datasets`` is imported only for ``hf:`` sources.
"""

from adapterhub.data.examples import DataSplit, Example, GenerationExample, Kind, TextExample, TokenExample
from adapterhub.data.labels import label_counts
from adapterhub.data.load import load_data, read_examples

__all__ = [
    "DataSplit",
    "Example",
    "GenerationExample",
    "Kind",
    "TextExample",
    "TokenExample",
    "label_counts",
    "load_data",
    "read_examples",
]
