"""One frozen base in memory, shared by every adapter made for it, and the batched forward passes over it.

Tasks of the encoder family (``sentiment``, ``classify``, ``ner``) run on the bare body, each adapter's task
reading its own samples' states; the causal family (``generate``) runs on the causal LM. How an input is
encoded and how states become a result is the task's (:class:`~adapterhub.tasks.task.Task`); batching,
routing and decoding are here. Samples of one forward pass may use different adapters: LoRA through
:class:`~adapterhub.inference.lora_bank.LoraBank`, prefixes through a per-sample cache (a decoder runs every
prefix length and LoRA rows in one pass; an encoder one pass per prefix length).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from adapterhub.base import cache_argument, context_length, fingerprint, load_base, load_tokenizer
from adapterhub.export.attach import require_base
from adapterhub.inference.decoding import GenerationOptions, decode
from adapterhub.inference.inputs import check_context
from adapterhub.inference.lora_bank import LoraBank
from adapterhub.inference.prefix_cache import prefix_cache, windowed
from adapterhub.inference.resident import ResidentAdapter, parse_adapter
from adapterhub.models import pooling_for
from adapterhub.registry import LoadedAdapter
from adapterhub.tasks import task_for
from adapterhub.tasks.padding import pad
from adapterhub.tasks.results import Generation, Result
from adapterhub.tasks.task import InferenceInput

ENCODER, CAUSAL = "encoder", "causal"


# What one more forward pass costs, in padded tokens' worth of compute: on a CPU a pass costs about as much as
# 64 tokens, so padding is worth avoiding; on a GPU the tokens are nearly free and fewer, larger passes win.
PASS_OVERHEAD_TOKENS = {False: 64, True: 4096}


def split_by_padding(lengths: Sequence[int], batch_size: int, overhead: int) -> list[tuple[int, int]]:
    """Cut ``lengths`` (sorted longest first) into contiguous batches of at most ``batch_size`` that minimise
    ``overhead`` per batch plus the padded tokens (count x longest) of each; (start, stop) pairs, in order.

    Exact by dynamic programming: with random arrival order, one fixed-size batch pads short inputs to the
    longest, and on a CPU that padding can cost more than the extra passes length-sorted sub-batches need.
    """
    n = len(lengths)
    best = [0.0] + [float("inf")] * n  # best[i]: cheapest split of the first i inputs
    cut = [0] * (n + 1)
    for i in range(1, n + 1):
        for j in range(max(0, i - batch_size), i):
            cost = best[j] + overhead + (i - j) * lengths[j]
            if cost < best[i]:
                best[i], cut[i] = cost, j
    spans, i = [], n
    while i > 0:
        spans.append((cut[i], i))
        i = cut[i]
    return spans[::-1]


class _Root(nn.Module):
    """The encoder body under the attribute name task models give it, so adapter keys resolve as trained."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.config = body.config

    @property
    def base_model(self) -> nn.Module:
        return self.body


@dataclass
class _Item:
    index: int
    adapter: ResidentAdapter
    input: InferenceInput  # as the adapter's task encoded it

    @property
    def ids(self) -> list[int]:
        return self.input.ids

    @property
    def text(self) -> str:
        return self.input.text


class Host:
    """A base model loaded once (per base id, family and quantization) with its tokenizer and fingerprint."""

    def __init__(
        self,
        base_id: str,
        family: str,
        device: torch.device,
        quantize: str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.base_id, self.family, self.quantize = base_id, family, quantize
        model = load_base(base_id, "CAUSAL_LM" if family == CAUSAL else "", quantize=quantize)
        activations = model.get_input_embeddings().weight.dtype
        if family == ENCODER:
            if hasattr(model, "pooler"):
                model.pooler = None
            model = _Root(model)
        self.fingerprint = fingerprint(model)  # of the weights as stored: a base run in bf16 is the same base
        if dtype is not None and not quantize:
            model = model.to(dtype)
        self.root = model if quantize else model.to(device)
        self.device = device if not quantize else next(model.parameters()).device
        # adapters compute in the dtype of the activations: a quantized base keeps its unquantized weights
        # (embeddings, norms) in fp32 and returns its quantized layers' outputs in that dtype
        self.dtype = activations if quantize else next(model.parameters()).dtype
        self.pooling = pooling_for(base_id, self.root.config) if family == ENCODER else "last"
        self.tokenizer = load_tokenizer(base_id)
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None else 0
        self.router = LoraBank(self.root)
        self.context = context_length(self.root.config)  # positions the base was built for (None: no limit)
        embeddings = getattr(self.root.base_model, "embeddings", None)
        offset = getattr(embeddings, "padding_idx", None)
        if self.context and isinstance(offset, int) and hasattr(embeddings, "create_position_ids_from_input_ids"):
            self.context -= offset + 1  # RoBERTa-style positions start after the padding index
        # a fast tokenizer called with other truncation settings than its last call mutates itself, and raises
        # "Already borrowed" when another thread uses it then: prompts are also measured off the batch's thread,
        # so every call to the tokenizer holds this lock
        self._tokenizing = threading.Lock()

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.root.state_dict().values())

    def prepare(self, loaded: LoadedAdapter) -> ResidentAdapter:
        """Check ``loaded`` against this base (fingerprint, keys, shapes) and make it resident here."""
        require_base(loaded.record, self.fingerprint)
        adapter = parse_adapter(loaded, self.root, device=self.device, dtype=self.dtype)
        self.router.register(adapter)
        return adapter

    def release(self, adapter: ResidentAdapter) -> None:
        self.router.release(adapter)

    # ----------------------------------------------------------------------------------------------- running

    @torch.inference_mode()
    def run(
        self,
        requests: Sequence[tuple[int, str | tuple[str, ...], ResidentAdapter]],
        batch_size: int,
        options: GenerationOptions | None = None,
        on_text: Callable[[int, str], None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[int, Result]:
        """Results by request index; requests are batched longest first (an encoder's by prefix length too).

        Encoder batches are cut where padding would cost more than another forward pass (see
        :func:`split_by_padding`); generation batches are cut every ``batch_size`` prompts. ``progress(n)`` is
        called after each forward pass (each generation batch) with the number of requests it finished.
        """
        done = progress or (lambda count: None)
        items = [self._encode(index, text, adapter) for index, text, adapter in requests]
        if self.family == CAUSAL:  # before any pass: a prompt past the context fails the call, by name
            new = (options or GenerationOptions()).max_new_tokens
            for item in items:
                check_context(len(item.ids), item.adapter.prefix_length, new, self.context, f"inputs[{item.index}]")
        results: dict[int, Result] = {}
        by_prefix: dict[tuple[int, int], list[_Item]] = {}
        # Left padding would part a prefix from its prompt in a sliding window: there, prompts of one length only.
        one_length = self.family == CAUSAL and windowed(self.root.config)
        for item in items:
            length = item.adapter.prefix_length
            if self.family == CAUSAL and not one_length:
                key = (0, 0)  # prefixes of every length and LoRA rows in one pass: positions are given per row
            else:  # an encoder's positions start after the cache: one pass per prefix length
                key = (length, len(item.ids) if length and one_length else 0)
            by_prefix.setdefault(key, []).append(item)
        for group in by_prefix.values():
            group.sort(key=lambda item: len(item.ids), reverse=True)
            if self.family == CAUSAL:
                for start in range(0, len(group), batch_size):
                    chunk = group[start : start + batch_size]
                    results.update(self._generate(chunk, options or GenerationOptions(), on_text))
                    done(len(chunk))
                continue
            overhead = PASS_OVERHEAD_TOKENS[self.device.type == "cuda"]
            for start, stop in split_by_padding([len(item.ids) for item in group], batch_size, overhead):
                results.update(self._classify(group[start:stop]))
                done(stop - start)
        return results

    def check_prompts(
        self, texts: Sequence[str], adapter: ResidentAdapter, max_new_tokens: int, params: Sequence[str]
    ) -> None:
        """Refuse, as :meth:`run` would and before any pass, a prompt that with ``max_new_tokens`` new tokens
        needs more positions than the base has (safe to call while another thread runs a batch)."""
        if self.family != CAUSAL:
            return
        for text, param in zip(texts, params, strict=True):
            ids = self._encode(0, text, adapter, param).ids
            check_context(len(ids), adapter.prefix_length, max_new_tokens, self.context, param)

    def base_states(self, texts: Sequence[str]) -> torch.Tensor:
        """The bare base's last hidden states for ``texts`` (one padded batch); no adapter is routed."""
        with torch.inference_mode(), self._tokenizing:
            enc = self.tokenizer(list(texts), padding=True, return_tensors="pt").to(self.device)
            body = self.root.body if self.family == ENCODER else self.root
            out = body(**enc, output_hidden_states=True)
            return out.hidden_states[-1].detach().clone()

    def room(self, texts: Sequence[str], adapter: ResidentAdapter) -> int | None:
        """New tokens that fit in the base's context after the longest of ``texts`` as ``adapter`` prompts it
        (None when the base states no context length)."""
        if self.context is None:
            return None
        longest = max(len(self._encode(0, text, adapter).ids) for text in texts)
        return self.context - adapter.prefix_length - longest

    def _encode(
        self, index: int, text: str | tuple[str, ...], adapter: ResidentAdapter, param: str | None = None
    ) -> _Item:
        with self._tokenizing:
            return self._encode_unlocked(index, text, adapter, param or f"inputs[{index}]")

    def _encode_unlocked(self, index: int, text: str | tuple[str, ...], adapter: ResidentAdapter, param: str) -> _Item:
        limit = adapter.max_length
        if self.family == ENCODER and self.context is not None:
            # prefix key/values take the first positions of an encoder too: past the table, the body fails
            limit = min(limit, self.context - adapter.prefix_length)
        task = task_for(adapter.record.card)
        return _Item(index, adapter, task.encode_input(text, self.tokenizer, adapter.record, limit, param))

    def _routing(self, batch: Sequence[_Item]) -> tuple[list[_Item], list[ResidentAdapter], torch.Tensor, list]:
        """The batch reordered so that each adapter's samples are contiguous, its adapters, each sample's
        adapter slot and the segments the router applies."""
        counts = Counter(id(item.adapter) for item in batch)
        adapters = sorted({id(i.adapter): i.adapter for i in batch}.values(), key=lambda a: counts[id(a)])
        slot = {id(adapter): index for index, adapter in enumerate(adapters)}  # equal counts end up adjacent
        ordered = sorted(batch, key=lambda item: slot[id(item.adapter)])
        rows = [slot[id(item.adapter)] for item in ordered]
        segments, start = [], 0
        for index, adapter in enumerate(adapters):
            stop = start + rows.count(index)
            segments.append((start, stop, adapter))
            start = stop
        return ordered, adapters, torch.tensor(rows, device=self.device), segments

    def _classify(self, batch: Sequence[_Item]) -> dict[int, Result]:
        batch, adapters, rows, segments = self._routing(batch)
        ids = pad([item.ids for item in batch], self.pad_id).to(self.device)
        mask = pad([[1] * len(item.ids) for item in batch], 0).to(self.device)
        cache, full_mask = None, mask
        if adapters[0].prefix_length:  # one prefix length per encoder pass: its positions start after it
            cache, prefix_mask = prefix_cache(adapters, rows, self.root.config)
            full_mask = torch.cat([prefix_mask.to(mask.dtype), mask], dim=1)
        body = self.root.body
        with self.router.route(segments):
            states = body(input_ids=ids, attention_mask=full_mask, **cache_argument(body, cache)).last_hidden_state
        states = states[:, -ids.shape[1] :]  # (B, T, H)
        out: dict[int, Result] = {}
        for slot, adapter in enumerate(adapters):
            members = (rows == slot).nonzero().flatten()
            items = [batch[j] for j in members.tolist()]
            results = task_for(adapter.record.card).read_outputs(
                adapter.record, [i.input for i in items], states[members], mask[members], adapter.head, self.pooling
            )
            out.update({item.index: result for item, result in zip(items, results, strict=True)})
        return out

    def _generate(
        self, batch: Sequence[_Item], options: GenerationOptions, on_text: Callable[[int, str], None] | None
    ) -> dict[int, Result]:
        batch, adapters, rows, segments = self._routing(batch)
        eos = self.tokenizer.eos_token_id
        streams = [_TextStream(self._decode, eos, item.index, on_text) for item in batch] if on_text else None
        width = max(len(item.ids) for item in batch)
        ids = torch.tensor([[self.pad_id] * (width - len(i.ids)) + i.ids for i in batch], device=self.device)
        mask = torch.tensor([[0] * (width - len(i.ids)) + [1] * len(i.ids) for i in batch], device=self.device)
        cache = prefix_mask = None
        if any(adapter.prefix_length for adapter in adapters):  # prefixes of any length, LoRA rows beside them
            cache, prefix_mask = prefix_cache(adapters, rows, self.root.config)
        with self.router.route(segments):
            new, finished = decode(
                self.root,
                ids,
                mask,
                options,
                self.tokenizer.eos_token_id,
                cache,
                prefix_mask,
                on_token=(lambda row, token: streams[row].push(token)) if streams else None,
            )
        if streams:
            for stream in streams:
                stream.flush()
        return {
            item.index: Generation(
                adapter=item.adapter.ref,
                text=self._decode(tokens),
                tokens=len(tokens),
                finished=fin,
                prompt_tokens=len(item.ids),
            )
            for item, tokens, fin in zip(batch, new, finished, strict=True)
        }

    def _decode(self, tokens: list[int]) -> str:
        with self._tokenizing:
            return self.tokenizer.decode(tokens, skip_special_tokens=True)


class _TextStream:
    """Turns one sample's new token ids into text pieces as soon as they decode to whole characters."""

    def __init__(
        self, decode: Callable[[list[int]], str], eos_id: int | None, index: int, on_text: Callable[[int, str], None]
    ) -> None:
        self.decode, self.eos_id, self.index, self.on_text = decode, eos_id, index, on_text
        self.tokens: list[int] = []
        self.sent = 0  # characters already handed out

    def push(self, token: int) -> None:
        if token == self.eos_id:
            return
        self.tokens.append(token)
        text = self.decode(self.tokens)
        if text.endswith("\ufffd"):  # a character split across tokens: wait for its next part
            return
        self._send(text)

    def flush(self) -> None:
        self._send(self.decode(self.tokens))

    def _send(self, text: str) -> None:
        if len(text) > self.sent:
            self.on_text(self.index, text[self.sent :])
            self.sent = len(text)
