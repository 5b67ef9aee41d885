"""Model families: which fill-in-the-middle and repository formats a model understands.

A code model only infills when it sees the exact special tokens it was trained
with; the wrong ones (or ones its tokenizer lacks and splits into ordinary
pieces) produce plausible-looking garbage with no error.  So the family is
detected from the tokenizer itself: a FIM template is used only when every one
of its tokens is a real special token of that tokenizer, encoding to a single
id.  Everything else gets prefix-only completion, and the output says so.

Documented formats (prefix-suffix-middle order for all):

- StarCoder / StarCoder2 / SmolLM: ``<fim_prefix>{p}<fim_suffix>{s}<fim_middle>``;
  StarCoder2 repo-level: ``<repo_name>{repo}<file_sep>{path}\\n{code}...``
- DeepSeek-Coder: ``<｜fim▁begin｜>{p}<｜fim▁hole｜>{s}<｜fim▁end｜>`` (full-width bars)
- Qwen2.5-Coder: ``<|fim_prefix|>{p}<|fim_suffix|>{s}<|fim_middle|>``; repo-level
  ``<|repo_name|>{repo}\\n<|file_sep|>{path}\\n{code}\\n...``
- Code Llama: ``<PRE> {p} <SUF>{s} <MID>`` (the tokens are ``▁<PRE>`` etc. in its tokenizer)
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_CONTEXT_WINDOW = 4096
PREFIX_ONLY = "prefix-only"
FIM = "fim"


@dataclass(frozen=True)
class FimTemplate:
    """The three FIM tokens of a family, as spelled in its tokenizer."""

    prefix_token: str
    suffix_token: str
    middle_token: str
    # Code Llama puts a space after the prefix token ("<PRE> {prefix}").
    space_after_prefix: bool = False

    @property
    def tokens(self) -> tuple[str, str, str]:
        return (self.prefix_token, self.suffix_token, self.middle_token)

    def build(self, prefix: str, suffix: str) -> str:
        """The prompt that asks for the middle between ``prefix`` and ``suffix``."""
        gap = " " if self.space_after_prefix else ""
        return f"{self.prefix_token}{gap}{prefix}{self.suffix_token}{suffix}{self.middle_token}"


@dataclass(frozen=True)
class RepoFormat:
    """Repository-level tokens: a repository name, then files separated by a token."""

    repo_token: str
    file_token: str
    newline_after_repo: bool = False  # Qwen2.5-Coder: "<|repo_name|>{name}\n"
    # StarCoder2 trained "<file_sep><fim_prefix>{path}\n{prefix}<fim_suffix>...": the FIM
    # prefix token precedes the path.  Qwen puts the path first.
    fim_before_path: bool = False


@dataclass(frozen=True)
class ModelFamily:
    """What the prompt builders need to know about a model."""

    name: str
    fim: FimTemplate | None = None
    repo: RepoFormat | None = None
    context_window: int = DEFAULT_CONTEXT_WINDOW
    completion_temperature: float = 0.2
    sample_temperature: float = 0.8
    # Tokens that end a completion (end of text, next file, FIM padding...).
    stop_tokens: tuple[str, ...] = ()
    has_chat_template: bool = False

    @property
    def completion_mode(self) -> str:
        """``fim`` when the model can see the suffix, else ``prefix-only``."""
        return FIM if self.fim is not None else PREFIX_ONLY

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (served by ``repo-assistant serve`` in ``/v1/models``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelFamily:
        fim = data.get("fim")
        repo = data.get("repo")
        return cls(
            name=str(data.get("name", "generic")),
            fim=FimTemplate(**fim) if isinstance(fim, dict) else None,
            repo=RepoFormat(**repo) if isinstance(repo, dict) else None,
            context_window=int(data.get("context_window") or DEFAULT_CONTEXT_WINDOW),
            completion_temperature=float(data.get("completion_temperature", 0.2)),
            sample_temperature=float(data.get("sample_temperature", 0.8)),
            stop_tokens=tuple(data.get("stop_tokens") or ()),
            has_chat_template=bool(data.get("has_chat_template", False)),
        )


@dataclass(frozen=True)
class _Candidate:
    """One documented family: its FIM tokens, optional repo tokens, and stops."""

    name: str
    fim: FimTemplate | None
    repo: RepoFormat | None
    stops: tuple[str, ...]
    alternatives: tuple[FimTemplate, ...] = field(default=())


QWEN = _Candidate(
    name="qwen2.5-coder",
    fim=FimTemplate("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    repo=RepoFormat("<|repo_name|>", "<|file_sep|>", newline_after_repo=True),
    stops=("<|endoftext|>", "<|file_sep|>", "<|fim_pad|>", "<|im_end|>", "<|repo_name|>"),
)
DEEPSEEK = _Candidate(
    name="deepseek-coder",
    fim=FimTemplate("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
    repo=None,
    stops=("<|EOT|>", "<｜end▁of▁sentence｜>"),
)
STARCODER2 = _Candidate(
    name="starcoder2",
    fim=FimTemplate("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
    repo=RepoFormat("<repo_name>", "<file_sep>", fim_before_path=True),
    stops=("<|endoftext|>", "<file_sep>", "<fim_pad>"),
)
STARCODER = _Candidate(
    name="starcoder",
    fim=FimTemplate("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
    repo=None,
    stops=("<|endoftext|>", "<fim_pad>", "<filename>"),
)
CODELLAMA = _Candidate(
    name="codellama",
    fim=FimTemplate("▁<PRE>", "▁<SUF>", "▁<MID>", space_after_prefix=True),
    repo=None,
    stops=("▁<EOT>", "<EOT>", "</s>"),
    alternatives=(FimTemplate("<PRE>", " <SUF>", " <MID>", space_after_prefix=True),),
)
# StarCoder-vocabulary models without FIM training (SmolLM2): repository tokens only.
SMOLLM = _Candidate(
    name="smollm",
    fim=None,
    repo=RepoFormat("<repo_name>", "<file_sep>"),
    stops=("<|endoftext|>", "<file_sep>", "<|im_end|>", "<repo_name>"),
)
CANDIDATES: tuple[_Candidate, ...] = (QWEN, DEEPSEEK, STARCODER2, STARCODER, CODELLAMA)
KNOWN_FAMILIES: dict[str, _Candidate] = {c.name: c for c in (*CANDIDATES, SMOLLM)}


def special_token_ids(tokenizer: Any) -> dict[str, int]:
    """Every added/special token of ``tokenizer`` with its id."""
    found: dict[str, int] = {}
    get_added = getattr(tokenizer, "get_added_vocab", None)
    if callable(get_added):
        found.update(get_added())
    for token in getattr(tokenizer, "all_special_tokens", []) or []:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int):
            found[token] = token_id
    return found


def is_real_special_token(tokenizer: Any, token: str, specials: dict[str, int] | None = None) -> bool:
    """True when ``token`` is a special token of the tokenizer and its text encodes to exactly it.

    A token the tokenizer lacks maps to the unknown id or is split into ordinary
    pieces (``<fim_prefix>`` → ``<``, ``fim``, ``_``, ``prefix``, ``>``): the model
    then sees text, not the control token, and infilling silently fails.
    """
    specials = special_token_ids(tokenizer) if specials is None else specials
    token_id = specials.get(token.strip())
    if token_id is None:
        return False
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is not None and token_id == unk and token.strip() != getattr(tokenizer, "unk_token", None):
        return False
    try:
        ids = tokenizer.encode(token.strip(), add_special_tokens=False)
    except Exception:
        return False
    return list(ids) == [token_id]


def _verified_fim(tokenizer: Any, candidate: _Candidate, specials: dict[str, int]) -> FimTemplate | None:
    for template in (candidate.fim, *candidate.alternatives):
        if template is not None and all(is_real_special_token(tokenizer, t, specials) for t in template.tokens):
            return template
    return None


def _verified_repo(tokenizer: Any, repo: RepoFormat | None, specials: dict[str, int]) -> RepoFormat | None:
    if repo is None:
        return None
    ok = all(is_real_special_token(tokenizer, t, specials) for t in (repo.repo_token, repo.file_token))
    return repo if ok else None


def config_context_window(config: Any) -> int | None:
    """The model's trained context length from its config, when it says."""
    if config is None:
        return None
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _tokenizer_context_window(tokenizer: Any) -> int | None:
    value = getattr(tokenizer, "model_max_length", None)
    if isinstance(value, int) and 0 < value < 10_000_000:
        return value
    return None


def detect_family(tokenizer: Any, config: Any = None) -> ModelFamily:
    """The family of a model, read from its tokenizer's special tokens and its config."""
    specials = special_token_ids(tokenizer)
    window = config_context_window(config) or _tokenizer_context_window(tokenizer) or DEFAULT_CONTEXT_WINDOW
    has_chat = bool(getattr(tokenizer, "chat_template", None))
    chosen: _Candidate | None = None
    fim: FimTemplate | None = None
    for candidate in CANDIDATES:
        fim = _verified_fim(tokenizer, candidate, specials)
        if fim is not None:
            chosen = candidate
            break
    if chosen is STARCODER2 and not _verified_repo(tokenizer, STARCODER2.repo, specials):
        chosen = STARCODER  # the original StarCoder: same FIM tokens, no <file_sep>
    if chosen is None:
        repo = _verified_repo(tokenizer, SMOLLM.repo, specials)
        if repo is not None:
            chosen = SMOLLM
    if chosen is None:
        name = str(getattr(config, "model_type", "") or "generic")
        stops = tuple(t for t in (getattr(tokenizer, "eos_token", None),) if t)
        return ModelFamily(name=name, context_window=window, stop_tokens=stops, has_chat_template=has_chat)
    repo = _verified_repo(tokenizer, chosen.repo, specials)
    stops = [t for t in chosen.stops if t in specials]
    eos = getattr(tokenizer, "eos_token", None)
    if eos and eos not in stops:
        stops.append(eos)
    return ModelFamily(
        name=chosen.name, fim=fim, repo=repo, context_window=window,
        stop_tokens=tuple(stops), has_chat_template=has_chat,
    )


def documented_family(name: str, context_window: int = DEFAULT_CONTEXT_WINDOW) -> ModelFamily:
    """A family from its documented tokens, for a served model whose tokenizer we cannot read.

    Used for presets behind an OpenAI-compatible server: the preset names the
    family, and the server's tokenizer is the one published with the model.
    """
    candidate = KNOWN_FAMILIES.get(name)
    if candidate is None:
        return ModelFamily(name=name or "generic", context_window=context_window)
    return ModelFamily(
        name=candidate.name, fim=candidate.fim, repo=candidate.repo, context_window=context_window,
        stop_tokens=candidate.stops,
        has_chat_template=True,
    )


# --- prompt assembly -------------------------------------------------------------------------

_LINE_COMMENT = {
    ".py": "#", ".pyi": "#", ".rb": "#", ".sh": "#", ".bash": "#", ".yaml": "#", ".yml": "#",
    ".toml": "#", ".r": "#", ".pl": "#", ".sql": "--", ".lua": "--", ".hs": "--",
}


def line_comment(path: str) -> str:
    """The line-comment marker of a file's language (``//`` unless known otherwise)."""
    return _LINE_COMMENT.get(posixpath.splitext(path)[1].lower(), "//")


def build_completion_prompt(
    family: ModelFamily,
    *,
    prefix: str,
    suffix: str,
    path: str,
    context_files: Sequence[tuple[str, str]] = (),
    repo_name: str = "",
) -> str:
    """The completion prompt in the family's format.

    ``context_files`` are ``(path, text)`` snippets retrieved from other files.
    Families with repository tokens get them in their repo-level format (the active
    file last); others get each snippet under a path comment, which is how
    DeepSeek-Coder and Code Llama saw multi-file code in training.  Without FIM
    the prompt ends with the prefix and the suffix is left out entirely.
    """
    fim = family.fim
    if family.repo is not None:
        repo = family.repo
        parts = [repo.repo_token, repo_name or "repo"]
        if repo.newline_after_repo:
            parts.append("\n")
        for ctx_path, text in context_files:
            body = text if text.endswith("\n") else text + "\n"
            parts.append(f"{repo.file_token}{ctx_path}\n{body}")
        if fim is None:
            parts.append(f"{repo.file_token}{path}\n{prefix}")
        elif repo.fim_before_path:
            parts.append(repo.file_token + fim.build(f"{path}\n{prefix}", suffix))
        else:
            parts.append(f"{repo.file_token}{path}\n" + fim.build(prefix, suffix))
        return "".join(parts)
    comment = line_comment(path)
    header = "".join(
        f"{line_comment(p)} {p}\n{t if t.endswith(chr(10)) else t + chr(10)}\n" for p, t in context_files
    )
    if context_files:
        header += f"{comment} {path}\n"
    if fim is None:
        return header + prefix
    return fim.build(header + prefix, suffix)
