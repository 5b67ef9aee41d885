"""The local transformers backend: any HF id, local directory or GGUF file, on CUDA, MPS or CPU.

Generation runs ``model.generate`` in a worker thread; a streamer on that thread
decodes the new tokens, cuts them at stop strings and puts text deltas on a
queue that the caller's iterator reads.  A ``StoppingCriteria`` reads the
caller's cancel event (and the per-sequence "hit a stop string" flags) at every
step, so cancelling stops the model within one token and frees the lock.
Several sequences can be sampled in one batch (``stream_n``): on a
memory-bound model 2-5 sequences cost little more than one.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.models.base import ChatMessage, GenerationParams, GenerationStats
from assistant.models.families import ModelFamily, config_context_window, detect_family
from assistant.models.resolve import (
    ModelSource,
    check_hub_source,
    hub_errors,
    load_tokenizer,
    parse_rope_scaling,
    resolve_source,
)
from assistant.models.stops import safe_end
from assistant.models.threads import apply_threads
from base import devices
from base.config import ModelSettings
from base.cpu import CpuPolicy
from base.errors import ModelError

log = logging.getLogger(__name__)

_END = object()
# How long the consumer waits between liveness checks of the worker thread.
_POLL_S = 0.25


# --- device, dtype and option checks ------------------------------------------------------


def resolve_device(setting: str) -> str:
    """``model.device`` as a torch device (see :func:`base.devices.resolve_device`)."""
    return devices.resolve_device(setting, key="model.device", error=ModelError)


def resolve_dtype(setting: str, device: str) -> Any:
    """``auto`` → bf16 on GPUs that support it (fp16 otherwise), fp32 on CPU (faster first token)."""
    import torch

    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    wanted = setting.strip().lower() or "auto"
    if wanted != "auto":
        if wanted not in names:
            raise ModelError(f"unknown model.dtype '{setting}'", hint="use auto, float32, bfloat16 or float16")
        return names[wanted]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


def _module_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def check_gpu_options(settings: ModelSettings, device: str, quant_method: str | None) -> None:
    """Refuse GPU-only options on a machine (or device) without CUDA, with a clear message."""
    quant = settings.quantization.strip().lower()
    on_cuda = device.startswith("cuda")
    if quant not in {"", "none", "8bit", "4bit"}:
        raise ModelError(f"unknown model.quantization '{settings.quantization}'", hint="use none, 8bit or 4bit")
    if quant in {"8bit", "4bit"}:
        if not on_cuda:
            raise ModelError(f"model.quantization={quant} (bitsandbytes) needs a CUDA GPU, but the device is {device}",
                             hint="set model.quantization=none, or run on a CUDA machine")
        if not _module_available("bitsandbytes"):
            raise ModelError(f"model.quantization={quant} needs the bitsandbytes package",
                             hint="pip install 'repo-assistant[gpu]' (or pip install bitsandbytes)")
    attn = settings.attn_implementation.strip().lower()
    if attn not in {"", "auto", "sdpa", "eager", "flash_attention_2"}:
        raise ModelError(f"unknown model.attn_implementation '{settings.attn_implementation}'",
                         hint="use auto, sdpa, eager or flash_attention_2")
    if attn == "flash_attention_2":
        if not on_cuda:
            raise ModelError(f"flash_attention_2 needs a CUDA GPU, but the device is {device}",
                             hint="set model.attn_implementation=sdpa")
        if not _module_available("flash_attn"):
            raise ModelError("flash_attention_2 needs the flash-attn package",
                             hint="pip install flash-attn --no-build-isolation, or use sdpa")
    if quant_method in {"awq", "gptq"}:
        if not on_cuda:
            raise ModelError(f"this checkpoint is {quant_method.upper()}-quantised and needs a CUDA GPU",
                             hint="use an unquantised checkpoint on this machine")
        needed = {"awq": ("awq",), "gptq": ("gptqmodel", "auto_gptq")}[quant_method]
        if not any(_module_available(m) for m in needed):
            package = {"awq": "autoawq", "gptq": "gptqmodel (with optimum)"}[quant_method]
            raise ModelError(f"this checkpoint is {quant_method.upper()}-quantised and needs {package}",
                             hint=f"pip install {package.split()[0]}")


def is_oom(exc: BaseException) -> bool:
    """True for out-of-memory errors from torch on any device (and plain MemoryError)."""
    import torch

    if isinstance(exc, MemoryError | torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text
                                              or "failed to allocate" in text)


# --- the streamer: decode, cut at stop strings, hand deltas to the caller ---------------------


@dataclass
class _Row:
    tokens: list[int]
    text: str = ""
    emitted: int = 0
    done: bool = False
    hit_stop: bool = False


class _DeltaStreamer:
    """A transformers streamer (``put``/``end``) that turns token ids into per-sequence text deltas.

    It runs on the generation thread.  The first ``put`` is the prompt (skipped);
    each later one carries one token per sequence.  Text that might be the start
    of a stop string, or an incomplete UTF-8 character, is held back until the
    next token decides it.
    """

    def __init__(self, tokenizer: Any, n: int, stops: list[str], anchor: int | None,
                 out: queue.Queue[Any], on_first_token: Callable[[], None]) -> None:
        self.tokenizer = tokenizer
        self.stops = [s for s in stops if s]
        self.rows = [_Row(tokens=[]) for _ in range(n)]
        self.anchor = [anchor] if anchor is not None else []
        self.anchor_text = tokenizer.decode(self.anchor, skip_special_tokens=True) if self.anchor else ""
        self.out = out
        self.prompt_seen = False
        self.first_seen = False
        self.on_first_token = on_first_token
        self.eos_ids: set[int] = set()

    def put(self, value: Any) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        ids = value.reshape(-1).tolist()
        if not self.first_seen:
            self.first_seen = True
            self.on_first_token()
        for index, token in enumerate(ids[: len(self.rows)]):
            row = self.rows[index]
            if row.done:
                continue
            if token in self.eos_ids:
                row.done = True
                self._flush(index, final=True)
                continue
            row.tokens.append(int(token))
            self._flush(index, final=False)

    def end(self) -> None:
        for index, row in enumerate(self.rows):
            if not row.done:
                self._flush(index, final=True)

    def _decode(self, row: _Row) -> str:
        text = self.tokenizer.decode(self.anchor + row.tokens, skip_special_tokens=True)
        if self.anchor_text and text.startswith(self.anchor_text):
            return text[len(self.anchor_text):]
        return self.tokenizer.decode(row.tokens, skip_special_tokens=True)

    def _flush(self, index: int, final: bool) -> None:
        row = self.rows[index]
        text = self._decode(row)
        row.text = text
        end, hit = safe_end(text, row.emitted, self.stops, final)
        if hit:
            row.done = True
            row.hit_stop = True
        if end > row.emitted:
            self.out.put((index, text[row.emitted:end]))
            row.emitted = end
        if final:
            row.done = True


def _make_stopping_criteria(cancel: threading.Event, streamer: _DeltaStreamer) -> Any:
    import torch
    from transformers import StoppingCriteria

    class _CancelOrStop(StoppingCriteria):
        """Stops every sequence when cancelled, and each sequence that has hit a stop string."""

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            batch = input_ids.shape[0]
            if cancel.is_set():
                return torch.ones(batch, dtype=torch.bool, device=input_ids.device)
            flags = [streamer.rows[i].done if i < len(streamer.rows) else False for i in range(batch)]
            return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)

    return _CancelOrStop()


# --- the backend -------------------------------------------------------------------------------


class LocalBackend:
    """A transformers model in this process.  One generation at a time (a lock serialises them)."""

    def __init__(self, model: Any, tokenizer: Any, family: ModelFamily, *, name: str, device: str,
                 dtype: Any, threads: int, load_s: float = 0.0, source: ModelSource | None = None,
                 cpu: CpuPolicy | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.family = family
        self._name = name
        self._device = device
        self.dtype = dtype
        self.threads = threads
        self.cpu = cpu or CpuPolicy()
        self.load_s = load_s
        self.source = source
        self._stats = GenerationStats()
        self._lock = threading.Lock()

    # Backend protocol ------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def context_window(self) -> int:
        return self.family.context_window

    @property
    def device(self) -> str:
        return self._device

    @property
    def last_stats(self) -> GenerationStats:
        return self._stats

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def stream(self, prompt: str, params: GenerationParams,
               cancel: threading.Event | None = None) -> Iterator[str]:
        for _index, delta in self._generate(self._encode_raw(prompt), params, 1, cancel):
            yield delta

    def stream_chat(self, messages: list[ChatMessage], params: GenerationParams,
                    cancel: threading.Event | None = None) -> Iterator[str]:
        for _index, delta in self._generate(self._encode_chat(messages), params, 1, cancel):
            yield delta

    def stream_n(self, prompt: str, params: GenerationParams, n: int,
                 cancel: threading.Event | None = None) -> Iterator[tuple[int, str]]:
        return self._generate(self._encode_raw(prompt), params, n, cancel)

    def stream_chat_n(self, messages: list[ChatMessage], params: GenerationParams, n: int,
                      cancel: threading.Event | None = None) -> Iterator[tuple[int, str]]:
        return self._generate(self._encode_chat(messages), params, n, cancel)

    # prompt encoding -------------------------------------------------------------------------

    def _encode_raw(self, prompt: str) -> list[int]:
        return list(self.tokenizer.encode(prompt, add_special_tokens=True))

    def chat_prompt(self, messages: list[ChatMessage]) -> str:
        """The conversation rendered with the tokenizer's own chat template."""
        if not getattr(self.tokenizer, "chat_template", None):
            # No template (a base model): a plain transcript the model can continue.
            lines = [f"{m.role.capitalize()}: {m.content}" for m in messages]
            return "\n\n".join(lines) + "\n\nAssistant:"
        return self.tokenizer.apply_chat_template(
            [m.as_dict() for m in messages], tokenize=False, add_generation_prompt=True
        )

    def _encode_chat(self, messages: list[ChatMessage]) -> list[int]:
        return list(self.tokenizer.encode(self.chat_prompt(messages), add_special_tokens=False))

    # generation ------------------------------------------------------------------------------

    def _stop_ids(self) -> list[int]:
        ids: list[int] = []
        eos = self.model.generation_config.eos_token_id
        if isinstance(eos, int):
            ids.append(eos)
        elif isinstance(eos, list):
            ids.extend(int(i) for i in eos)
        if self.tokenizer.eos_token_id is not None:
            ids.append(int(self.tokenizer.eos_token_id))
        for token in self.family.stop_tokens:
            token_id = self.tokenizer.convert_tokens_to_ids(token)
            if isinstance(token_id, int) and token_id != self.tokenizer.unk_token_id:
                ids.append(token_id)
        return sorted(set(ids))

    def _pad_id(self, stop_ids: list[int]) -> int:
        if self.tokenizer.pad_token_id is not None:
            return int(self.tokenizer.pad_token_id)
        return stop_ids[0] if stop_ids else 0

    def _generate(self, prompt_ids: list[int], params: GenerationParams, n: int,
                  cancel: threading.Event | None) -> Iterator[tuple[int, str]]:
        if n < 1:
            raise ValueError("n must be at least 1")
        window = self.context_window
        room = window - params.max_new_tokens
        if room <= 0:
            raise ModelError(f"max_new_tokens={params.max_new_tokens} does not fit the {window}-token window")
        if len(prompt_ids) > room:
            log.warning("prompt of %d tokens cut to the last %d to fit the window", len(prompt_ids), room)
            prompt_ids = prompt_ids[-room:]
        return self._run(prompt_ids, params, n, cancel or threading.Event())

    def _run(self, prompt_ids: list[int], params: GenerationParams, n: int,
             cancel: threading.Event) -> Iterator[tuple[int, str]]:
        import torch

        out: queue.Queue[Any] = queue.Queue()
        stop_ids = self._stop_ids()
        stats = GenerationStats(prompt_tokens=len(prompt_ids))
        clock = [time.perf_counter()]  # reset when the lock is acquired: waiting is not generating

        def first_token() -> None:
            stats.time_to_first_token_s = time.perf_counter() - clock[0]

        streamer = _DeltaStreamer(self.tokenizer, n, list(params.stop), prompt_ids[-1] if prompt_ids else None,
                                  out, first_token)
        streamer.eos_ids = set() if params.ignore_eos else set(stop_ids)
        criteria = _make_stopping_criteria(cancel, streamer)
        do_sample = params.temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "do_sample": do_sample,
            "num_return_sequences": n,
            "streamer": streamer,
            "stopping_criteria": [criteria],
            "pad_token_id": self._pad_id(stop_ids),
            "eos_token_id": stop_ids or None,
        }
        if do_sample:
            kwargs.update(temperature=params.temperature, top_p=params.top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if params.ignore_eos:
            kwargs["min_new_tokens"] = params.max_new_tokens
        if n > 1 and not do_sample:
            raise ModelError("sampling several sequences needs temperature > 0")

        def work() -> None:
            try:
                with self._lock:
                    clock[0] = time.perf_counter()
                    apply_threads(self.cpu, self.threads)
                    if params.seed is not None:
                        torch.manual_seed(params.seed)
                    ids = torch.tensor([prompt_ids], dtype=torch.long, device=self.model.device)
                    with torch.inference_mode():
                        self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
            except BaseException as exc:  # reported to the caller's thread
                out.put(("error", exc))
            finally:
                out.put(_END)

        if cancel.is_set():
            stats.finish_reason = "cancelled"
            self._stats = stats
            return

        worker = threading.Thread(target=work, name="generate", daemon=True)
        worker.start()
        finished = False
        try:
            while True:
                try:
                    item = out.get(timeout=_POLL_S)
                except queue.Empty:
                    if not worker.is_alive() and out.empty():
                        raise ModelError("the generation thread stopped without a result") from None
                    continue
                if item is _END:
                    finished = True
                    break
                if item[0] == "error":
                    exc = item[1]
                    if is_oom(exc):
                        raise ModelError("out of memory while generating",
                                         hint="use a shorter context or a smaller model") from exc
                    raise ModelError(f"generation failed: {type(exc).__name__}: {exc}") from exc
                yield item
        finally:
            if not finished:
                cancel.set()  # the caller stopped reading: stop the model too
            # Always wait for the thread: a generate() thread still alive at interpreter exit
            # aborts the process ("terminate called without an active exception", exit 134).
            worker.join(timeout=5)
            stats.total_s = time.perf_counter() - clock[0]
            stats.completion_tokens = sum(len(r.tokens) for r in streamer.rows)
            if cancel.is_set():
                stats.finish_reason = "cancelled"
            elif all(r.hit_stop or (r.done and len(r.tokens) < params.max_new_tokens) for r in streamer.rows):
                stats.finish_reason = "stop"
            else:
                stats.finish_reason = "length"
            self._stats = stats


# --- loading ------------------------------------------------------------------------------------


def _apply_rope_scaling(config: Any, rope: dict[str, Any]) -> int | None:
    """Merge ``model.rope_scaling`` into the config; returns the scaled context window."""
    current = dict(getattr(config, "rope_parameters", None) or {})
    current.update(rope)
    if "type" in rope and "rope_type" not in rope:
        current["rope_type"] = rope["type"]
    if hasattr(config, "rope_parameters"):
        config.rope_parameters = current
        standardize = getattr(config, "standardize_rope_params", None)
        if callable(standardize):
            standardize()
    else:
        config.rope_scaling = current
    base = config_context_window(config)
    factor = rope.get("factor")
    if base and isinstance(factor, int | float) and factor > 1:
        return int(base * factor)
    return None


def load_local_backend(settings: ModelSettings, *, progress: Callable[[str], None] | None = None,
                       threads: int | None = None, cpu: CpuPolicy | None = None) -> LocalBackend:
    """Load ``settings.name`` with transformers on the chosen device and dtype."""
    source = resolve_source(settings.name)
    check_hub_source(source)  # an unknown name fails in one line before transformers is imported (seconds)
    from transformers import AutoConfig, AutoModelForCausalLM

    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    thread_setting = settings.threads if threads is None else threads
    cpu = cpu or CpuPolicy()
    apply_threads(cpu, thread_setting)
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    location = source.location
    if source.kind == "gguf":
        from assistant.models.gguf_cache import ensure_converted

        location = str(ensure_converted(Path(source.location), progress=say))
    with hub_errors(source):
        config = AutoConfig.from_pretrained(location)
    quant_cfg = getattr(config, "quantization_config", None)
    quant_method = None
    if quant_cfg is not None:
        quant_method = str(quant_cfg.get("quant_method") if isinstance(quant_cfg, dict)
                           else getattr(quant_cfg, "quant_method", "")).lower() or None
    check_gpu_options(settings, device, quant_method)
    rope = parse_rope_scaling(settings.rope_scaling)
    scaled_window = _apply_rope_scaling(config, rope) if rope else None

    kwargs: dict[str, Any] = {"config": config, "dtype": dtype}
    attn = settings.attn_implementation.strip().lower()
    if attn and attn != "auto":
        kwargs["attn_implementation"] = attn
    quant = settings.quantization.strip().lower()
    if quant in {"8bit", "4bit"}:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = (
            BitsAndBytesConfig(load_in_8bit=True) if quant == "8bit"
            else BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=dtype, bnb_4bit_quant_type="nf4")
        )
        kwargs["device_map"] = {"": device if ":" in device else f"{device}:0"}
    elif quant_method in {"awq", "gptq"}:
        kwargs["device_map"] = {"": device if ":" in device else f"{device}:0"}
    say(f"Loading {source.display_name} on {device} ({str(dtype).replace('torch.', '')})...")
    try:
        with hub_errors(source), _quiet_progress_bars():
            model = AutoModelForCausalLM.from_pretrained(location, **kwargs)
        if "device_map" not in kwargs:
            model = model.to(device)
    except ModelError:
        raise
    except BaseException as exc:
        if is_oom(exc):
            raise ModelError(
                f"out of memory loading {source.display_name} on {device}",
                hint="try model.quantization=4bit or 8bit on a GPU, model.dtype=bfloat16, or a smaller preset",
            ) from exc
        raise
    model.eval()
    tokenizer = load_tokenizer(ModelSource(source.name, location, "dir", source.preset)) \
        if source.kind == "gguf" else _hub_tokenizer(source, location)
    family = detect_family(tokenizer, model.config)
    family = _adjust_family(family, source, settings, scaled_window)
    load_s = time.perf_counter() - started
    log.info("loaded %s (%s) on %s %s in %.1fs, family %s, mode %s", source.display_name, location, device,
             dtype, load_s, family.name, family.completion_mode)
    return LocalBackend(model, tokenizer, family, name=source.display_name, device=device, dtype=dtype,
                        threads=thread_setting, load_s=load_s, source=source, cpu=cpu)


@contextlib.contextmanager
def _quiet_progress_bars() -> Iterator[None]:
    """No per-tensor progress bars on every load (the first GGUF conversion reports its own progress)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _hub_tokenizer(source: ModelSource, location: str) -> Any:
    from transformers import AutoTokenizer

    with hub_errors(source):
        return AutoTokenizer.from_pretrained(location)


def _adjust_family(family: ModelFamily, source: ModelSource, settings: ModelSettings,
                   scaled_window: int | None) -> ModelFamily:
    """Apply the preset's knowledge (no FIM at CodeLlama-34B) and the context-window override."""
    from dataclasses import replace

    if source.preset is not None and not source.preset.fim and family.fim is not None:
        family = replace(family, fim=None)
    if settings.context_window > 0:
        family = replace(family, context_window=settings.context_window)
    elif scaled_window:
        family = replace(family, context_window=scaled_window)
    return family
