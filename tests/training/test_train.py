"""Training on tiny random models: every task x method, the loop's guarantees and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adapterhub import ConfigError, MetricBelowMinimum, Registry, TrainConfig, train
from adapterhub.base import fingerprint, load_base
from adapterhub.training.train import BaseChanged, TrainingInterrupted
from tests.training.conftest import write_classification

FAST = dict(epochs=2, batch_size=8, lr=1e-2, max_length=32)


@pytest.mark.parametrize("method", ["lora", "prefix", "head"])
@pytest.mark.parametrize("task", ["sentiment", "classify", "ner"])
def test_every_encoder_task_and_method_trains_and_publishes(
    task: str, method: str, tiny_bert: Path, sentiment_csv: Path, topics_csv: Path, ner_conll: Path
) -> None:
    data = {"sentiment": sentiment_csv, "classify": topics_csv, "ner": ner_conll}[task]
    result = train(task=task, method=method, base=str(tiny_bert), data=str(data), **FAST)
    card = result.record.card
    assert result.record.ref == f"{task}@1"
    assert (card.task, card.method, card.base.id) == (task, method, str(tiny_bert.resolve()))
    assert card.base.fingerprint == fingerprint(load_base(str(tiny_bert)))
    metric = {"sentiment": "accuracy", "classify": "accuracy", "ner": "f1"}[task]
    assert card.headline_metric == metric and 0.0 <= card.metrics[metric] <= 1.0
    assert (
        card.labels
        == {
            "sentiment": ("negative", "positive"),
            "classify": ("negative", "neutral", "positive"),
            "ner": ("O", "B-location", "B-person", "I-location", "I-person"),
        }[task]
    )
    assert card.data.train_examples + card.data.eval_examples == {"sentiment": 64, "classify": 60, "ner": 40}[task]
    assert len(result.fit.history) == 2 and card.trainable_params > 0
    assert Registry().load(result.record.ref).tensors  # verified and loadable
    if method == "head":  # only the head trained: its LoRA pair is the frozen zero no-op
        tensors = Registry().load(result.record.ref).tensors
        assert all(not t.any() for k, t in tensors.items() if "lora_B" in k)


@pytest.mark.parametrize("method", ["lora", "prefix"])
def test_generation_trains_on_a_causal_lm(method: str, tiny_gpt2: Path, instructions_jsonl: Path) -> None:
    result = train(
        task="generate",
        method=method,
        base=str(tiny_gpt2),
        data=str(instructions_jsonl),
        epochs=3,
        batch_size=4,
        lr=1e-2,
        max_length=64,
    )
    card = result.record.card
    assert (card.task_type, card.headline_metric) == ("CAUSAL_LM", "perplexity")
    first, best = result.fit.history[0]["perplexity"], card.metrics["perplexity"]
    assert best <= first and best < 320  # learned something: below a uniform guess over the vocabulary


def test_training_learns_an_easy_task(tiny_bert: Path, tmp_path: Path) -> None:
    from tests.training.conftest import write_classification

    data = write_classification(tmp_path / "easy.csv", n=200)
    result = train(task="sentiment", base=str(tiny_bert), data=str(data), epochs=6, batch_size=16, lr=1e-2)
    assert result.record.card.metrics["accuracy"] >= 0.9
    assert result.record.card.hyperparameters["chance"] == 0.5 and "below-chance" not in result.record.card.tags


def test_the_same_seed_gives_the_same_adapter(tiny_bert: Path, sentiment_csv: Path) -> None:
    reg = Registry()
    for _ in range(2):
        train(task="sentiment", base=str(tiny_bert), data=str(sentiment_csv), **FAST)
    first, second = reg.load("sentiment@1").tensors, reg.load("sentiment@2").tensors
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_a_changed_base_weight_fails_loudly_and_publishes_nothing(
    tiny_bert: Path, sentiment_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import peft

    real = peft.get_peft_model

    def leaky(model, config, **kwargs):  # a bug that leaves one base weight trainable
        wrapped = real(model, config, **kwargs)
        next(p for n, p in wrapped.named_parameters() if "word_embeddings" in n).requires_grad_(True)
        return wrapped

    monkeypatch.setattr(peft, "get_peft_model", leaky)
    with pytest.raises(BaseChanged, match="base weight changed"):
        train(task="sentiment", base=str(tiny_bert), data=str(sentiment_csv), **FAST)
    assert not Registry().exists()


def test_early_stopping_keeps_the_best_and_stops(tiny_bert: Path, sentiment_csv: Path) -> None:
    result = train(
        task="sentiment",
        base=str(tiny_bert),
        data=str(sentiment_csv),
        epochs=20,
        batch_size=8,
        lr=1e-9,
        eval_every=1,
        patience=2,
    )
    assert result.fit.stopped_early and len(result.fit.history) == 3
    assert result.record.card.metrics["accuracy"] == result.fit.history[0]["accuracy"]


def test_ctrl_c_publishes_nothing_unless_asked(tiny_bert: Path, sentiment_csv: Path) -> None:
    def interrupt_at_step_3(event: str, values: dict) -> None:
        if event == "step" and values["step"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match="nothing was published; pass --save-on-interrupt"):
        train(task="sentiment", base=str(tiny_bert), data=str(sentiment_csv), report=interrupt_at_step_3, **FAST)
    assert not Registry().exists()
    result = train(
        task="sentiment",
        base=str(tiny_bert),
        data=str(sentiment_csv),
        report=interrupt_at_step_3,
        eval_every=1,
        save_on_interrupt=True,
        **FAST,
    )
    assert result.fit.interrupted and "interrupted" in result.record.card.tags
    assert len(result.fit.history) == 2  # evaluations at steps 1 and 2


def test_refusals_come_before_any_training(tiny_bert: Path, sentiment_csv: Path) -> None:
    with pytest.raises(ConfigError, match="--task generate needs --base"):
        train(task="generate")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="--quantize 4bit needs a CUDA GPU with bitsandbytes"):
            train(task="sentiment", quantize="4bit", base=str(tiny_bert), data=str(sentiment_csv))
    with pytest.raises(ConfigError, match="unknown task 'sentimnt'"):
        train(task="sentimnt")
    with pytest.raises(ConfigError, match=r"--epochs must be at least 1.*--lr must be positive"):
        TrainConfig(epochs=0, lr=-1.0)
    with pytest.raises(ConfigError, match="sentiment is binary"):
        from tests.training.conftest import write_classification

        data = write_classification(sentiment_csv.parent / "three.csv", labels=("negative", "neutral", "positive"))
        train(task="sentiment", base=str(tiny_bert), data=str(data))


def test_yaml_config_and_flags_share_one_dataclass(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("task: classify\nepochs: 5\nlora:\n  r: 4\n  target_modules: [query]\n")
    config = TrainConfig.from_yaml(path)
    assert (config.task, config.epochs, config.lora.r, config.lora.target_modules) == ("classify", 5, 4, ("query",))
    merged = config.merged(epochs=2, lora_alpha=32, prefix_tokens=7, lr=None)
    assert (merged.epochs, merged.lora.r, merged.lora.alpha, merged.prefix.num_virtual_tokens) == (2, 4, 32, 7)
    path.write_text("task: classify\nepohcs: 5\n")
    with pytest.raises(ConfigError, match=r"run\.yaml: epohcs is not a setting \(did you mean 'epochs'\?\)"):
        TrainConfig.from_yaml(path)


def test_gradient_accumulation_steps_and_evaluates_per_epoch(tiny_bert: Path, sentiment_csv: Path) -> None:
    result = train(
        task="sentiment",
        base=str(tiny_bert),
        data=str(sentiment_csv),
        epochs=2,
        batch_size=4,
        lr=1e-2,
        grad_accum=3,
        max_length=32,
    )
    # 58 training examples -> 15 batches an epoch -> 10 optimizer steps over 2 epochs, 5 per epoch
    assert result.fit.steps == 10
    assert [h["step"] for h in result.fit.history] == [5, 10]


def test_loraplus_gives_the_b_matrices_a_larger_learning_rate(tiny_bert: Path, sentiment_csv: Path) -> None:
    from peft import get_peft_model

    from adapterhub.tasks import get_task
    from adapterhub.training.loop import _optimizer

    config = TrainConfig(loraplus_ratio=16, lr=1e-3)
    model = get_task("sentiment").build_model(str(tiny_bert), ("a", "b"), 0.0)
    model = get_peft_model(model, config.lora.peft_config("SEQ_CLS", model))
    names = {id(p): n for n, p in model.named_parameters()}
    rates = {names[id(p)]: g["lr"] for g in _optimizer(model, config).param_groups for p in g["params"]}
    assert {lr for n, lr in rates.items() if "lora_B" in n} == {16e-3}
    assert {lr for n, lr in rates.items() if "lora_A" in n} == {1e-3}
    result = train(base=str(tiny_bert), data=str(sentiment_csv), loraplus_ratio=16, **FAST)
    assert result.record.card.hyperparameters["loraplus_ratio"] == 16
    with pytest.raises(ConfigError, match="--loraplus-ratio must be at least 1"):
        TrainConfig(loraplus_ratio=0.5)


def test_runs_with_other_precisions_follow_each_other_in_one_process(tiny_bert: Path, sentiment_csv: Path) -> None:
    first = train(task="sentiment", base=str(tiny_bert), data=str(sentiment_csv), precision="bf16", **FAST)
    second = train(task="sentiment", base=str(tiny_bert), data=str(sentiment_csv), precision="fp32", **FAST)
    assert [first.record.ref, second.record.ref] == ["sentiment@1", "sentiment@2"]
    assert second.record.card.hyperparameters["precision"] == "fp32"


def _scores(monkeypatch: pytest.MonkeyPatch, accuracy: float) -> None:
    """Every evaluation of a classifier scores ``accuracy``: what the publishing checks see, fixed."""
    from adapterhub.tasks.classification import SequenceClassification

    def evaluate(self, model, batches, labels) -> dict[str, float]:
        for _ in batches:
            pass
        return {"accuracy": accuracy, "macro_f1": accuracy, "loss": 1.0}

    monkeypatch.setattr(SequenceClassification, "evaluate", evaluate)


def test_an_adapter_no_better_than_chance_is_published_with_a_warning_and_a_tag(
    tiny_bert: Path, sentiment_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scores(monkeypatch, 0.5)  # the eval split is 3 negative, 3 positive: chance is 1/2
    result = train(task="sentiment", base=str(tiny_bert), data=str(sentiment_csv), **FAST)
    card = result.record.card
    assert "below-chance" in card.tags and card.hyperparameters["chance"] == 0.5
    assert result.warnings == (
        "sentiment@1 scored accuracy 0.5000, at or below chance (0.5000: 1/2 for 2 balanced labels), so it learned "
        "nothing useful and is tagged below-chance; train longer (--epochs), try another --lr, check the data's "
        "labels, or pass --min-metric to refuse such an adapter",
    )
    _scores(monkeypatch, 0.6667)
    better = train(task="sentiment", base=str(tiny_bert), data=str(sentiment_csv), **FAST)
    assert "below-chance" not in better.record.card.tags and better.warnings == ()


def test_min_metric_refuses_to_publish_a_weaker_adapter(
    tiny_bert: Path, sentiment_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scores(monkeypatch, 0.6)
    with pytest.raises(MetricBelowMinimum) as caught:
        train(task="sentiment", base=str(tiny_bert), data=str(sentiment_csv), min_metric=0.75, **FAST)
    assert str(caught.value) == (
        "sentiment scored accuracy 0.6000, below --min-metric 0.75; nothing was published: train longer "
        "(--epochs), try another --lr or more data, or lower --min-metric"
    )
    assert MetricBelowMinimum.exit_code == 7 and not Registry().exists()  # nothing published, nothing created
    result = train(task="sentiment", base=str(tiny_bert), data=str(sentiment_csv), min_metric=0.6, **FAST)
    assert result.record.card.hyperparameters["min_metric"] == 0.6


def test_labels_name_integer_classes_and_order_named_ones(tiny_bert: Path, tmp_path: Path) -> None:
    from adapterhub import evaluate
    from adapterhub.inference import Hub

    rows = [f"{i % 3} {['bad', 'meh', 'good'][i % 3]} film {i}" for i in range(60)]
    (tmp_path / "topics.txt").write_text("\n".join(rows) + "\n")
    data = str(tmp_path / "topics.txt")
    result = train(task="classify", base=str(tiny_bert), data=data, labels=("neg", "neu", "pos"), **FAST)
    assert result.record.card.labels == ("neg", "neu", "pos")
    assert result.record.card.hyperparameters["data_labels"] == ["0", "1", "2"]
    hub = Hub(device="cpu")
    assert hub.predict(["bad film"], "classify")[0].label in ("neg", "neu", "pos")
    assert evaluate("classify", data, hub=hub, record=False).examples == 60  # integer data scored by class index
    with pytest.raises(ConfigError, match=r"^--labels names 2 classes, 0\.\.1, but .* label 2 has no name"):
        train(task="classify", base=str(tiny_bert), data=data, labels=("neg", "pos"), **FAST)

    named = write_classification(tmp_path / "named.csv", n=60, labels=("negative", "neutral", "positive"))
    order = ("positive", "neutral", "negative")
    result = train(task="classify", name="named", base=str(tiny_bert), data=str(named), labels=order, **FAST)
    assert result.record.card.labels == order
    with pytest.raises(ConfigError, match="it lacks 'neutral', which the data has"):
        train(task="classify", base=str(tiny_bert), data=str(named), labels=("positive", "negative"), **FAST)
    with pytest.raises(ConfigError, match="sentiment is binary"):
        train(task="sentiment", base=str(tiny_bert), data=str(named), labels=order, **FAST)


def test_the_card_records_what_inference_needs(tiny_bert: Path, tiny_gpt2: Path, tmp_path: Path) -> None:
    """max_length, pooling and the prompt template land in the card's typed settings, read by every consumer."""
    from adapterhub.registry import InferenceSettings
    from adapterhub.tasks.generate import TEMPLATE
    from tests.training.conftest import write_instructions

    data = write_classification(tmp_path / "s.csv", n=32)
    card = train(task="sentiment", base=str(tiny_bert), data=str(data), epochs=1, max_length=48).record.card
    # tiny_bert has no sentence-transformers pooling config: an encoder pools its first token
    assert card.inference == InferenceSettings(max_length=48, pooling="cls", prompt_template=None, quantize=None)

    data = write_instructions(tmp_path / "i.jsonl", n=8)
    card = train(task="generate", base=str(tiny_gpt2), data=str(data), epochs=1, max_length=40).record.card
    assert card.inference == InferenceSettings(max_length=40, pooling=None, prompt_template=TEMPLATE, quantize=None)
    assert "prompt_template" not in card.hyperparameters  # one place: the typed field
