"""Family detection and FIM / repo-level prompt construction for every documented family."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from assistant.models.families import (
    PREFIX_ONLY,
    ModelFamily,
    build_completion_prompt,
    detect_family,
    documented_family,
    is_real_special_token,
)
from tests.models.conftest import make_tokenizer

QWEN_TOKENS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>",
               "<|repo_name|>", "<|file_sep|>", "<|im_start|>", "<|im_end|>"]
DEEPSEEK_TOKENS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜fim▁begin｜>", "<｜fim▁hole｜>",
                   "<｜fim▁end｜>", "<|EOT|>"]
STARCODER2_TOKENS = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<repo_name>",
                     "<file_sep>", "<issue_start>"]
STARCODER_TOKENS = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>",
                    "<gh_stars>", "<reponame>"]
CODELLAMA_TOKENS = ["</s>", "▁<PRE>", "▁<MID>", "▁<SUF>", "▁<EOT>"]
SMOLLM_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<reponame>", "<file_sep>",
                 "<filename>", "<gh_stars>"]


def test_qwen_fim_and_repo_level() -> None:
    tok = make_tokenizer(QWEN_TOKENS)
    family = detect_family(tok, SimpleNamespace(max_position_embeddings=32768, model_type="qwen2"))
    assert family.name == "qwen2.5-coder"
    assert family.completion_mode == "fim"
    assert family.context_window == 32768
    assert "<|file_sep|>" in family.stop_tokens
    prompt = build_completion_prompt(family, prefix="def f(x):\n    ", suffix="\nprint(f(1))\n", path="a/b.py",
                                     context_files=[("a/util.py", "def g():\n    pass")], repo_name="proj")
    assert prompt == ("<|repo_name|>proj\n<|file_sep|>a/util.py\ndef g():\n    pass\n"
                      "<|file_sep|>a/b.py\n<|fim_prefix|>def f(x):\n    <|fim_suffix|>\nprint(f(1))\n<|fim_middle|>")


def test_deepseek_fim_with_full_width_bars_and_path_comments() -> None:
    tok = make_tokenizer(DEEPSEEK_TOKENS, eos="<｜end▁of▁sentence｜>")
    family = detect_family(tok)
    assert family.name == "deepseek-coder"
    assert family.repo is None
    prompt = build_completion_prompt(family, prefix="x = ", suffix="\n", path="m.py",
                                     context_files=[("lib.py", "y = 1\n")])
    assert prompt == "<｜fim▁begin｜># lib.py\ny = 1\n\n# m.py\nx = <｜fim▁hole｜>\n<｜fim▁end｜>"
    js = build_completion_prompt(family, prefix="let a = ", suffix=";", path="m.js")
    assert js == "<｜fim▁begin｜>let a = <｜fim▁hole｜>;<｜fim▁end｜>"


def test_starcoder2_repo_level_puts_fim_prefix_before_the_path() -> None:
    family = detect_family(make_tokenizer(STARCODER2_TOKENS))
    assert family.name == "starcoder2"
    prompt = build_completion_prompt(family, prefix="a = ", suffix="\n", path="x.py",
                                     context_files=[("y.py", "b = 2\n")], repo_name="r")
    assert prompt == "<repo_name>r<file_sep>y.py\nb = 2\n<file_sep><fim_prefix>x.py\na = <fim_suffix>\n<fim_middle>"


def test_starcoder1_has_fim_but_no_repo_tokens() -> None:
    family = detect_family(make_tokenizer(STARCODER_TOKENS))
    assert family.name == "starcoder"
    assert family.repo is None
    assert build_completion_prompt(family, prefix="p", suffix="s", path="f.py") == \
        "<fim_prefix>p<fim_suffix>s<fim_middle>"


def test_codellama_tokens_with_metaspace() -> None:
    tok = make_tokenizer(CODELLAMA_TOKENS, eos="</s>", metaspace=True)
    family = detect_family(tok)
    assert family.name == "codellama"
    assert family.fim is not None and family.fim.prefix_token == "▁<PRE>"
    assert "▁<EOT>" in family.stop_tokens
    assert build_completion_prompt(family, prefix="def f():", suffix="\n", path="f.py") == \
        "▁<PRE> def f():▁<SUF>\n▁<MID>"


def test_smollm_style_vocab_without_fim_tokens_is_prefix_only() -> None:
    tok = make_tokenizer(SMOLLM_TOKENS)
    family = detect_family(tok)
    assert family.name == "smollm"
    assert family.fim is None and family.completion_mode == PREFIX_ONLY
    prompt = build_completion_prompt(family, prefix="x = ", suffix="SUFFIX", path="a.py",
                                     context_files=[("b.py", "y = 1")], repo_name="r")
    assert prompt == "<repo_name>r<file_sep>b.py\ny = 1\n<file_sep>a.py\nx = "
    assert "SUFFIX" not in prompt and "fim" not in prompt


def test_fim_text_that_is_not_a_special_token_is_never_used() -> None:
    # "<fim_prefix>" etc. exist only as ordinary text: they split into pieces, so no FIM.
    tok = make_tokenizer(["<|endoftext|>"])
    assert not is_real_special_token(tok, "<fim_prefix>")
    family = detect_family(tok, SimpleNamespace(model_type="llama", max_position_embeddings=2048))
    assert family.fim is None and family.repo is None
    assert family.name == "llama" and family.context_window == 2048
    assert build_completion_prompt(family, prefix="a", suffix="b", path="x.py") == "a"


def test_partial_fim_vocabulary_is_not_fim() -> None:
    tok = make_tokenizer(["<|endoftext|>", "<fim_prefix>", "<fim_suffix>"])  # no <fim_middle>
    assert detect_family(tok).fim is None


def test_embedded_tokenizer_has_repo_tokens_but_no_fim(embedded_tokenizer) -> None:
    family = detect_family(embedded_tokenizer, SimpleNamespace(max_position_embeddings=8192))
    assert family.name == "smollm"
    assert family.completion_mode == PREFIX_ONLY
    assert family.repo is not None and family.repo.file_token == "<file_sep>"
    assert family.has_chat_template
    # The FIM tokens map to ordinary pieces in this tokenizer.
    assert len(embedded_tokenizer.encode("<fim_prefix>", add_special_tokens=False)) > 1
    prompt = build_completion_prompt(family, prefix="def f():\n    return ", suffix="\n", path="m.py",
                                     repo_name="demo")
    ids = embedded_tokenizer.encode(prompt, add_special_tokens=False)
    assert ids[0] == embedded_tokenizer.convert_tokens_to_ids("<repo_name>")
    assert embedded_tokenizer.convert_tokens_to_ids("<file_sep>") in ids


def test_family_round_trips_through_json() -> None:
    family = detect_family(make_tokenizer(QWEN_TOKENS))
    assert ModelFamily.from_dict(family.to_dict()) == family


@pytest.mark.parametrize("name", ["qwen2.5-coder", "deepseek-coder", "starcoder2", "codellama", "smollm"])
def test_documented_families(name: str) -> None:
    family = documented_family(name, 16384)
    assert family.name == name and family.context_window == 16384
    assert (family.fim is None) == (name == "smollm")
