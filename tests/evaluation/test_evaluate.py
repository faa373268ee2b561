"""``evaluate`` and ``compare``: metrics equal to those computed by hand from the Hub's own predictions."""

from __future__ import annotations

from pathlib import Path

import pytest
from seqeval.metrics import f1_score

from adapterhub.errors import AdapterNotFound, ConfigError
from adapterhub.evaluation import compare, evaluate
from adapterhub.inference import Hub
from tests.evaluation.conftest import REVIEWS, SENTENCES
from tests.inference.helpers import publish_adapter

NAMES = {"0": "negative", "1": "positive"}


def test_classification_metrics_match_the_predictions(hub: Hub, registry, tiny_bert, reviews: Path) -> None:
    record, _ = publish_adapter(registry, tiny_bert, "sentiment", seed=3)
    predicted = [r.label for r in hub.predict([t for _, t in REVIEWS], adapter="sentiment")]
    gold = [NAMES[label] for label, _ in REVIEWS]

    result = evaluate("sentiment", reviews, hub=hub)

    assert result.adapter == "sentiment@1" and result.examples == len(REVIEWS)
    assert result.metrics["accuracy"] == pytest.approx(
        sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold)
    )
    assert result.labels == ("negative", "positive")
    for i, g in enumerate(result.labels):
        for j, p in enumerate(result.labels):
            assert result.confusion[i][j] == sum(1 for a, b in zip(gold, predicted, strict=True) if a == g and b == p)
    assert result.per_class["negative"]["support"] == 4
    hits = sum(1 for a, b in zip(gold, predicted, strict=True) if a == b == "positive")
    called = predicted.count("positive")
    assert result.per_class["positive"]["precision"] == pytest.approx(hits / called if called else 0.0, abs=1e-6)

    card = registry.get("sentiment@1").card
    assert card.evaluations[-1]["metrics"] == result.metrics
    assert card.evaluations[-1]["data_fingerprint"] == result.data_fingerprint
    assert result.data_fingerprint.startswith("sha256:")
    assert card.content_hash == record.card.content_hash
    assert hub.predict("a fine film", adapter="sentiment").adapter == "sentiment@1"  # still resident, same bytes


def test_entity_metrics_match_seqeval_on_the_given_words(hub: Hub, registry, tiny_bert, sentences: Path) -> None:
    publish_adapter(registry, tiny_bert, "ner", task="ner")
    words = [[w for w, _ in s] for s in SENTENCES]
    predicted = [list(r.tags) for r in hub.predict(words, adapter="ner", split_into_words=True)]

    result = evaluate("ner", sentences, hub=hub, record=False)

    assert result.metrics["f1"] == pytest.approx(f1_score([[t for _, t in s] for s in SENTENCES], predicted))
    assert set(result.metrics) == {"f1", "precision", "recall"}
    assert set(result.per_class) <= {"person", "location"}
    assert registry.get("ner").card.evaluations == ()  # record=False


def test_compare_scores_each_and_their_ensemble(hub: Hub, registry, tiny_bert, reviews: Path) -> None:
    for seed in (0, 1):
        publish_adapter(registry, tiny_bert, "sentiment", seed=seed)
    publish_adapter(registry, tiny_bert, "prefix", method="prefix", seed=2)

    results = compare(["sentiment@1", "sentiment@2", "prefix"], reviews, hub=hub, combine="mean")

    assert [r.adapter for r in results] == [
        "sentiment@1",
        "sentiment@2",
        "prefix@1",
        "mean(sentiment@1,sentiment@2,prefix@1)",
    ]
    ensemble = evaluate(["sentiment@1", "sentiment@2", "prefix"], reviews, hub=hub, combine="mean")
    assert ensemble.metrics == results[-1].metrics
    assert [len(registry.get(r).card.evaluations) for r in ("sentiment@1", "sentiment@2", "prefix")] == [1, 1, 1]


def test_refusals_name_the_problem(
    hub: Hub, registry, tiny_bert, tiny_gpt2, reviews: Path, sentences: Path, tmp_path: Path
) -> None:
    publish_adapter(registry, tiny_bert, "sentiment")
    publish_adapter(registry, tiny_bert, "topics", task="classify", labels=("sports", "world"))
    publish_adapter(registry, tiny_bert, "ner", task="ner")
    publish_adapter(registry, tiny_gpt2, "poet", task="generate")
    other = tmp_path / "other.txt"
    other.write_text("2 neutral text\n1 fine\n")

    with pytest.raises(ConfigError, match=r"labels 0, 1, which do not match the labels of topics@1 \(sports, world\)"):
        evaluate("topics", reviews, hub=hub)
    with pytest.raises(ConfigError, match="labels 1, 2, which do not match the labels of sentiment@1"):
        evaluate("sentiment", other, hub=hub)
    bad_tags = tmp_path / "bad.conll"
    bad_tags.write_text("acme\tB-corporation\n")
    with pytest.raises(ConfigError, match="tags B-corporation that ner@1 never learned"):
        evaluate("ner", bad_tags, hub=hub)
    with pytest.raises(ConfigError, match="poet@1 is a generate adapter; ensembles average"):
        evaluate(["poet", "poet@1"], reviews, hub=hub, combine="mean")
    with pytest.raises(ConfigError, match=r"one kind of task.*ner@1 is ner"):
        compare(["sentiment", "ner"], reviews, hub=hub)
    with pytest.raises(ConfigError, match="several adapters need combine"):
        evaluate(["sentiment", "topics"], reviews, hub=hub)
    with pytest.raises(AdapterNotFound):
        evaluate("nope", reviews, hub=hub)
    with pytest.raises(ConfigError, match="does not exist"):
        evaluate("sentiment", tmp_path / "missing.csv", hub=hub)
    assert registry.get("sentiment").card.evaluations == ()


@pytest.mark.parametrize("method", ["lora", "prefix"])
def test_generate_adapters_are_scored_by_perplexity(hub: Hub, registry, tiny_gpt2, tmp_path: Path, method: str) -> None:
    import json
    import math

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from adapterhub.tasks.generate import TEMPLATE

    publish_adapter(registry, tiny_gpt2, "poet", task="generate", method=method)
    data = tmp_path / "pairs.jsonl"
    rows = [
        {"instruction": "write about the sea", "output": "the sea is wide"},
        {"instruction": "hi", "output": "hello"},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))

    result = evaluate("poet", data, hub=hub)

    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_gpt2), registry.get("poet").path)
    total = count = 0.0
    for row in rows:  # the loss on the response tokens only, prompt in the training template
        prompt = [tokenizer.bos_token_id, *tokenizer(TEMPLATE.format(prompt=row["instruction"]))["input_ids"]]
        response = tokenizer(row["output"])["input_ids"] + [tokenizer.eos_token_id]
        ids = torch.tensor([prompt + response])
        labels = torch.tensor([[-100] * len(prompt) + response])
        with torch.no_grad():
            total += float(model(input_ids=ids, labels=labels).loss) * len(response)
        count += len(response)
    assert result.metrics["loss"] == pytest.approx(total / count, rel=1e-4)
    assert result.metrics["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-4)
    assert registry.get("poet").card.evaluations[-1]["metrics"] == result.metrics


def test_progress_counts_the_examples_of_each_adapter(
    hub: Hub, registry, tiny_bert, tiny_gpt2, reviews: Path, sentences: Path, tmp_path: Path
) -> None:
    publish_adapter(registry, tiny_bert, "sentiment", seed=1)
    publish_adapter(registry, tiny_bert, "sentiment", seed=2)
    publish_adapter(registry, tiny_bert, "ner", task="ner")
    publish_adapter(registry, tiny_gpt2, "poet", task="generate", method="prefix")
    events: list[dict] = []

    def report(event: str, values: dict) -> None:
        assert event == "progress"
        events.append(values)

    def runs() -> dict[str, list[tuple[int, int]]]:
        by_what: dict[str, list[tuple[int, int]]] = {}
        for values in events:
            by_what.setdefault(values["what"], []).append((values["done"], values["total"]))
        events.clear()
        return by_what

    evaluate("sentiment@1", reviews, hub=hub, report=report, batch_size=2)
    (counts,) = runs().values()
    assert counts[0] == (0, len(REVIEWS)) and counts[-1] == (len(REVIEWS), len(REVIEWS))
    assert len(counts) >= 1 + len(REVIEWS) // 2 and [d for d, _ in counts] == sorted(d for d, _ in counts)

    compare(["sentiment@1", "sentiment@2"], reviews, hub=hub, combine="mean", report=report, record=False)
    by_what = runs()
    assert list(by_what) == ["sentiment@1", "sentiment@2", "mean(sentiment@1,sentiment@2)"]
    assert [c[-1] for c in by_what.values()] == [(7, 7), (7, 7), (14, 14)]  # an ensemble runs each member

    evaluate("ner", sentences, hub=hub, report=report, record=False)
    assert runs() == {"ner@1": [(0, 3), (3, 3)]}

    data = tmp_path / "pairs.jsonl"
    data.write_text('{"instruction": "a", "output": "the sea"}\n' * 5)
    evaluate("poet", data, hub=hub, report=report, batch_size=2, record=False)
    assert runs() == {"poet@1": [(0, 5), (2, 5), (4, 5), (5, 5)]}
