"""Integration: the real all-MiniLM-L6-v2 base (embedded package), the embedded sentiment data, the CLI path."""

from __future__ import annotations

import pytest

from adapterhub import Registry, train
from adapterhub.base import fingerprint, load_base
from adapterhub.export.attach import attach

pytestmark = pytest.mark.slow


def test_default_sentiment_training_on_minilm_is_usable() -> None:
    result = train(task="sentiment")  # exactly what `hub train --task sentiment` runs
    card = result.record.card
    assert result.record.ref == "sentiment@1"
    assert card.base.id == "sentence-transformers/all-MiniLM-L6-v2"
    assert card.base.fingerprint == fingerprint(load_base(None))
    assert card.metrics["accuracy"] >= 0.8, card.metrics
    assert card.data.train_examples + card.data.eval_examples >= 400
    loaded = Registry().load("sentiment")
    assert loaded.config["peft_type"] == "LORA" and any("classifier" in k for k in loaded.tensors)
    with pytest.raises(Exception, match="was trained on base"):  # a different base is refused
        import tempfile
        from pathlib import Path

        from tests.tiny import save_tiny_bert

        other = save_tiny_bert(Path(tempfile.mkdtemp()), seed=0)
        attach(load_base(str(other)), loaded)
