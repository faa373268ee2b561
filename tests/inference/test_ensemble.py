"""Ensembles average the class probabilities of adapters of one label set, and refuse anything else."""

from __future__ import annotations

import pytest
import torch

from adapterhub.errors import ConfigError
from adapterhub.inference import Classification, Entities, Hub
from tests.inference.helpers import publish_adapter

TEXTS = ["hello there world", "a fine day", "it was not good at all, sadly"]


def test_mean_of_three_members_run_alone(hub: Hub, registry, tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "sentiment", seed=0)
    publish_adapter(registry, tiny_bert, "sentiment", seed=1)
    publish_adapter(registry, tiny_bert, "sst-prefix", method="prefix", seed=2)
    members = ["sentiment@1", "sentiment@2", "sst-prefix"]

    combined = hub.predict(TEXTS, adapter=members, combine="mean")
    alone = [hub.predict(TEXTS, adapter=m) for m in members]

    assert len(combined) == len(TEXTS)
    for i, result in enumerate(combined):
        assert isinstance(result, Classification)
        assert result.adapter == "mean(sentiment@1,sentiment@2,sst-prefix@1)"
        expected = torch.tensor([[r[i].scores[k] for k in ("negative", "positive")] for r in alone]).mean(0)
        got = torch.tensor([result.scores["negative"], result.scores["positive"]])
        torch.testing.assert_close(got, expected)
        assert result.label == ("negative", "positive")[int(expected.argmax())]
        assert result.score == pytest.approx(float(expected.max()))
    single = hub.predict(TEXTS[0], adapter=members, combine="mean")
    assert (single.adapter, single.label) == (combined[0].adapter, combined[0].label)
    assert single.score == pytest.approx(combined[0].score, abs=1e-6)


def test_label_order_may_differ_but_not_the_label_set(hub: Hub, registry, tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "a", labels=("negative", "positive"))
    publish_adapter(registry, tiny_bert, "b", labels=("positive", "negative"), seed=1)
    publish_adapter(registry, tiny_bert, "c", labels=("bad", "good"), seed=2)
    result = hub.predict("fine", adapter=["a", "b"], combine="mean")
    assert sum(result.scores.values()) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="disagree on labels: a@1 has negative, positive but c@1 has bad, good"):
        hub.predict("fine", adapter=["a", "c"], combine="mean")


def test_ensembles_that_cannot_be_averaged_are_refused(hub: Hub, registry, tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "a")
    publish_adapter(registry, tiny_bert, "ner", task="ner")
    with pytest.raises(ConfigError, match="ner@1 is a ner adapter; ensembles average class probabilities"):
        hub.predict("fine", adapter=["a", "ner"], combine="mean")
    with pytest.raises(ConfigError, match="at least two adapters"):
        hub.predict("fine", adapter=["a"], combine="mean")
    with pytest.raises(ConfigError, match="at least two adapters"):
        hub.predict("fine", adapter="a", combine="mean")
    with pytest.raises(ConfigError, match=r"same version twice: a@1 \(given as 'a', 'a@1'\); name distinct"):
        hub.predict("fine", adapter=["a", "a@1"], combine="mean")
    with pytest.raises(ConfigError, match="same version twice") as refused:  # one line, however long the list
        hub.predict("fine", adapter=["a", "ner", *["a@1"] * 63], combine="mean")
    assert len(str(refused.value)) < 200 and "\n" not in str(refused.value)
    with pytest.raises(ConfigError, match="combine must be one of mean"):
        hub.predict("fine", adapter=["a", "a@1"], combine="max")


def test_words_given_already_split_are_tagged_one_by_one(hub: Hub, registry, tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "ner", task="ner")
    publish_adapter(registry, tiny_bert, "sentiment")
    words = ["U.S.", "visit", "by", "anna-maria", ":)"]  # the raw-text splitter would cut these differently
    (result,) = hub.predict([words], adapter="ner", split_into_words=True)
    assert isinstance(result, Entities)
    assert list(result.words) == words
    assert len(result.tags) == len(words)
    simple = ["anna", "went", "to", "paris"]
    (split,) = hub.predict([simple], adapter="ner", split_into_words=True)
    assert split.tags == hub.predict("anna went to paris", adapter="ner").tags
    with pytest.raises(ConfigError, match="only ner adapters take word lists"):
        hub.predict([simple], adapter="sentiment", split_into_words=True)
    with pytest.raises(ConfigError, match="list of word lists"):
        hub.predict(simple, adapter="ner", split_into_words=True)
