"""The ``README.md`` of an exported adapter: a Hugging Face model card whose Python block predicts what the Hub does.

The front matter is what the Hugging Face Hub reads (``base_model`` as a hub id, ``library_name: peft``,
``pipeline_tag``, tags, labels, metrics as a ``model-index``); the block loads the folder with transformers and
PEFT alone. Only its first lines change from one machine to another: ``DIR`` (this folder, as exported) and
``BASE`` (the base model, as the card names it). In an export for the Hugging Face Hub, ``DIR`` is the repo id and
the head's files come through ``hf_hub_download``, so the block runs unchanged wherever the repo can be fetched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from adapterhub.base import AUTO_CLASSES, DEFAULT_BASE
from adapterhub.methods import METHODS
from adapterhub.models import POOL_CODE
from adapterhub.tasks import PIPELINE_TAGS

if TYPE_CHECKING:
    from adapterhub.cards.card import Card
    from adapterhub.export.settings import ExportSettings

HEADER = """\
{imports}import torch
from peft import PeftModel
{head_import}from transformers import {auto}, AutoTokenizer

DIR = {folder!r}  # {where}
BASE = {base!r}  # the base model: its hub id or a local copy of it
"""

# how the block reads the head's files: from the folder, or through the Hugging Face cache from the repo
LOCAL_FILE, HUB_FILE = 'f"{{DIR}}/{name}"', 'hf_hub_download(DIR, "{name}")'


SEQUENCE = """\
texts = ["a fine film", "a dull film"]

tokenizer = AutoTokenizer.from_pretrained(BASE){pad}
model = PeftModel.from_pretrained(AutoModel.from_pretrained(BASE), DIR).eval()
head = load_file({head_file})
labels = json.load(open({labels_file}))["labels"]
batch = tokenizer(texts, padding=True, truncation=True, max_length={max_length}, return_token_type_ids=False,
                  return_tensors="pt")
with torch.no_grad():
    states = model(**batch).last_hidden_state[:, -batch["input_ids"].shape[1]:]  # (texts, tokens, hidden)
{pool}  # {pooling} pooling, as the base was trained
probs = torch.softmax(features @ head["weight"].T + head["bias"], -1)  # (texts, labels)
print([dict(zip(labels, p.tolist())) for p in probs])
"""

TOKEN = """\
words = ["Anna", "flew", "to", "Paris"]

tokenizer = AutoTokenizer.from_pretrained(BASE)
model = PeftModel.from_pretrained(AutoModel.from_pretrained(BASE), DIR).eval()
head = load_file({head_file})
labels = json.load(open({labels_file}))["labels"]
batch = tokenizer(words, is_split_into_words=True, truncation=True, max_length={max_length},
                  return_token_type_ids=False, return_tensors="pt")
with torch.no_grad():
    states = model(**batch).last_hidden_state[0, -batch["input_ids"].shape[1]:]  # (tokens, hidden)
first = {{}}  # each word's first token carries its tag
for position, word in enumerate(batch.word_ids()):
    if word is not None:
        first.setdefault(word, position)
logits = states @ head["weight"].T + head["bias"]  # (tokens, labels)
tags = [labels[int(logits[first[i]].argmax())] if i in first else "O" for i in range(len(words))]
print(list(zip(words, tags)))
"""

GENERATE = """\
prompt = "write a short poem about the sea"

tokenizer = AutoTokenizer.from_pretrained(BASE)
model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(BASE), DIR).eval()
template = {template!r}  # the prompt template the adapter was trained with
ids = tokenizer(template.format(prompt=prompt) if template else prompt, return_tensors="pt")["input_ids"]
if tokenizer.bos_token_id is not None and (ids.shape[1] == 0 or ids[0, 0] != tokenizer.bos_token_id):
    ids = torch.cat([torch.tensor([[tokenizer.bos_token_id]]), ids], 1)
ids = ids[:, -{max_length}:]  # at most the last {max_length} tokens, as the adapter was trained
{decode}
print(text)
"""

BY_GENERATE = """\
with torch.no_grad():
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=64, do_sample=False,
                         pad_token_id=tokenizer.eos_token_id)
text = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)"""

# PEFT 0.21's generate() hands the prefix over as `past_key_values` while transformers 5 generates with its own
# `cache`, so the prefix is dropped; greedy decoding by hand keeps it
BY_HAND = """\
start = ids.shape[1]
with torch.no_grad():  # greedy, one pass a token (model.generate would drop the prefix under transformers 5)
    for _ in range(64):
        token = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0, -1].argmax().view(1, 1)
        ids = torch.cat([ids, token], 1)
        if token.item() == tokenizer.eos_token_id:
            break
text = tokenizer.decode(ids[0, start:], skip_special_tokens=True)"""

PLAIN = """\
model = PeftModel.from_pretrained({auto}.from_pretrained(BASE{labels}), DIR).eval()
"""

WHY_SPLIT = """\
`AutoModelForSequenceClassification` cannot reproduce this adapter: its head reads {pooling}-pooled token
states (as the base was trained), while transformers' classifiers read their own pooler or first token. So the
adapter is a PEFT adapter for the bare base (`AutoModel`), and the head is `head.safetensors` with the lines above.
"""


MARK = "<!-- model card written by `hub export` from card.json -->"


def model_card(
    card: Card,
    settings: ExportSettings,
    folder: Path,
    *,
    split_head: bool,
    notes: str = "",
    repo: str | None = None,
    named_base: bool = False,
) -> str:
    """The README.md of the export of ``card`` written to ``folder``; ``notes`` (a README the version holds, one
    a person wrote) goes at the end, and an earlier card of ours in its place is replaced. With ``repo`` (ORG/NAME),
    the card of that Hugging Face Hub repo: its code loads the adapter by repo id; ``named_base``: the version was
    trained on a local copy of the base, which its exporter named by hub id."""

    local_base = Path(card.base.id).is_absolute()
    lines = ["---", _front_matter(card, local_base).strip(), "---", "", f"# {card.name}@{card.version}", ""]
    labels = f" (labels: {', '.join(card.labels)})" if card.labels else ""
    lines += [
        f"A `{card.method}` adapter for `{card.task}`{labels}, trained with adapterhub on the frozen base "
        f"`{card.base.id}`.",
        "",
    ]
    if local_base:
        lines += [
            f"The base is a local model folder, not a Hugging Face Hub model, so this card names no `base_model`; "
            f"set `BASE` below to wherever that folder is on your machine (fingerprint `{card.base.fingerprint}`).",
            "",
        ]
    elif named_base:
        lines += [
            f"It was trained on a local copy of `{card.base.id}` (fingerprint `{card.base.fingerprint}`); `hub "
            "import` checks that fingerprint against the base it loads.",
            "",
        ]
    elif card.base.id == DEFAULT_BASE:
        lines += ["`BASE` below loads it from the Hugging Face Hub (or set it to a local copy).", ""]
    if card.metrics:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {name} | {value:.4g} |" for name, value in card.metrics.items()]
        lines += ["", f"Measured on {card.data.description or 'its evaluation data'}.", ""]
    lines += ["## Use it with transformers and PEFT", ""]
    if repo is None:
        how = "Set `DIR` to this folder (the path it was exported to is filled in) and `BASE` to the base model, and"
    else:
        how = "`DIR` is this repository and `BASE` the base model, both fetched from the Hub (or set either to a local "
        how += "copy);"
    lines += [
        f"{how} put your inputs on the line after them; nothing else needs changing.",
        "",
        "```python",
        _code(card, settings, repo or str(folder), split_head, hub=repo is not None).rstrip(),
        "```",
        "",
    ]
    if split_head and card.task_type == "SEQ_CLS":
        lines += [WHY_SPLIT.format(pooling=settings.pooling)]
    lines += ["## Files", ""]
    lines += _files(card, split_head, repo)
    if notes.strip() and MARK not in notes:
        lines += ["", "## Notes kept with the adapter", "", notes.strip()]
    lines += ["", MARK]
    return "\n".join(lines).rstrip() + "\n"


def _front_matter(card: Card, local_base: bool) -> str:
    from huggingface_hub import EvalResult, ModelCardData  # huggingface_hub: loaded on first use

    pipeline = PIPELINE_TAGS.get(card.task_type)
    results = [
        EvalResult(
            task_type=pipeline or card.task,
            dataset_type="custom",
            dataset_name=card.data.description or "evaluation data",
            metric_type=name,
            metric_value=value,
        )
        for name, value in card.metrics.items()
    ]
    data = ModelCardData(
        base_model=None if local_base else card.base.id,
        library_name="peft",
        pipeline_tag=pipeline,
        tags=["adapterhub", card.task, card.method, *(t for t in card.tags if t not in (card.task, card.method))],
        metrics=list(card.metrics) or None,
        labels=list(card.labels) or None,
        model_name=f"{card.name}@{card.version}" if results else None,
        eval_results=results or None,
    )
    return data.to_yaml()


def _code(card: Card, settings: ExportSettings, folder: str, split_head: bool, *, hub: bool = False) -> str:
    auto = "AutoModel" if split_head else AUTO_CLASSES.get(card.task_type, "AutoModel")
    hub_import = "from huggingface_hub import hf_hub_download\n" if split_head and hub else ""
    code = HEADER.format(
        imports="import json\n\n" if split_head else "",
        head_import=hub_import + ("from safetensors.torch import load_file\n" if split_head else ""),
        auto=auto,
        folder=folder,
        where="this adapter's repo on the Hugging Face Hub" if hub else "this folder",
        base=card.base.id,
    )
    file = HUB_FILE if hub else LOCAL_FILE
    head_file, labels_file = file.format(name="head.safetensors"), file.format(name="head.json")
    code += "\n"
    if split_head and card.task_type == "SEQ_CLS":
        pooling = settings.pooling or "cls"
        pad = "\ntokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token" if pooling == "last" else ""
        return code + SEQUENCE.format(
            pad=pad,
            max_length=settings.max_length,
            pool=POOL_CODE[pooling],
            pooling=pooling,
            head_file=head_file,
            labels_file=labels_file,
        )
    if split_head:
        return code + TOKEN.format(max_length=settings.max_length, head_file=head_file, labels_file=labels_file)
    if card.task_type == "CAUSAL_LM":
        method = METHODS.get(card.method)
        decode = BY_HAND if method is not None and method.generate_by_hand else BY_GENERATE
        return code + GENERATE.format(template=settings.prompt_template, max_length=settings.max_length, decode=decode)
    labels = f", num_labels={len(card.labels)}" if card.task_type in ("SEQ_CLS", "TOKEN_CLS") else ""
    return code + PLAIN.format(auto=auto, labels=labels)


def _files(card: Card, split_head: bool, repo: str | None) -> list[str]:
    body = "the bare base (`AutoModel`)" if split_head else f"`{AUTO_CLASSES.get(card.task_type, 'AutoModel')}`"
    out = [f"- `adapter_config.json`, `adapter_model.safetensors`: the PEFT adapter, for {body} of the base."]
    if split_head:
        out.append(
            "- `head.safetensors` (`weight`: labels x hidden, `bias`), `head.json` (labels, pooling, max_length): "
            "the task head."
        )
    again = (
        "`hub import DIR --name NAME` publishes this folder"
        if repo is None
        else f"`hub import hf://{repo}` publishes it"
    )
    out.append(f"- `card.json`: adapterhub's card (data, hyper-parameters, learning curve); {again} again.")
    return out
