"""The BM25 tokenizer: identifiers whole and split, lower-cased, English stopwords only."""

from __future__ import annotations

from indexer.tokenize import code_tokens, path_tokens, split_identifier


def test_split_identifier_handles_snake_camel_acronyms_and_digits() -> None:
    assert split_identifier("parseHTTPResponse_v2") == ["parse", "http", "response", "v", "2"]
    assert split_identifier("order_total") == ["order", "total"]
    assert split_identifier("XMLParser") == ["xml", "parser"]
    assert split_identifier("__init__") == ["init"]


def test_code_tokens_keep_whole_identifier_and_parts_without_stemming() -> None:
    tokens = code_tokens("def getOrderTotal(self, parser): return parsers")
    assert tokens[:5] == ["def", "getordertotal", "get", "order", "total"]
    assert "parser" in tokens and "parsers" in tokens  # no stemming
    assert tokens.count("self") == 1


def test_english_stopwords_dropped_but_not_inside_identifiers_or_keywords() -> None:
    tokens = code_tokens("where is the order total computed if not the_end")
    assert tokens == ["order", "total", "computed", "if", "not", "the_end", "the", "end"]


def test_path_tokens() -> None:
    assert path_tokens("shopcore/pricing/tax_rules.py") == ["shopcore", "pricing", "tax_rules", "tax", "rules", "py"]
    assert path_tokens("src/api-client.test.ts")[-1] == "ts"
