"""Secrets never reach the index (a security boundary: context may go to a remote model)."""

from __future__ import annotations

import pytest

from indexer.secrets import is_secret_file, redact

FAKE = {
    "aws": 'AWS_KEY = "AKIAIOSFODNN7EXAMPLE"',
    "github": "token = ghp_" + "a1B2" * 9,
    "slack": "SLACK = 'xoxb-123456789012-abcdefghijkl'",
    "jwt": "auth = eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "generic": 'api_key = "f3a9c1d27b8e4a6f9d0c"',
    "stripe": "STRIPE = 'sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" + "'",
    "url": "DB = 'postgres://admin:hunter2hunter2@db.example.com/shop'",
}


@pytest.mark.parametrize("kind", sorted(FAKE))
def test_token_like_lines_are_redacted_keeping_line_numbers(kind: str) -> None:
    text = f"def f():\n    {FAKE[kind]}\n    return 1\n"
    result = redact(text)
    assert result.lines == 1
    assert result.text.count("\n") == text.count("\n")
    assert FAKE[kind].split("=")[-1].strip().strip("'\"")[:12] not in result.text
    assert result.text.split("\n")[1].startswith("    [redacted ")


def test_private_key_blocks_are_redacted_entirely() -> None:
    text = "a = 1\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\nAAAA\n-----END OPENSSH PRIVATE KEY-----\nb = 2"
    result = redact(text)
    assert result.lines == 4
    assert "b3Blbn" not in result.text and result.text.startswith("a = 1\n") and result.text.endswith("b = 2")


def test_ordinary_code_is_untouched() -> None:
    text = ("password = getpass.getpass()\ntoken = request.headers['X-Token']\nkey = 'short'\n"
            "SECRET_NAME = 'prod-database-credentials'\n")
    assert redact(text).lines == 0


@pytest.mark.parametrize("name", [".env", ".env.local", ".env.example", "server.pem", "id_rsa", "id_ed25519",
                                  "tls.key", ".netrc", "credentials.json", ".git-credentials", "prod.tfvars"])
def test_secret_files(name: str) -> None:
    assert is_secret_file(name)


@pytest.mark.parametrize("name", ["env.py", "keys.py", "secrets_test.py", "config.json", "keyboard.rs"])
def test_ordinary_files(name: str) -> None:
    assert not is_secret_file(name)
