"""Keep secrets out of the index: files that hold credentials, and lines that look like keys.

Whatever the index holds may be sent to a remote model endpoint as context, so this is a
security boundary.  Two layers, both off only when ``index.index_secrets`` is true:

* **files** that exist to hold secrets are never read: ``.env*``, private keys and
  certificates (``*.pem``, ``*.key``, ``id_rsa``…), credential stores (``.netrc``,
  ``.git-credentials``, ``credentials.json``…);
* **lines** in other files that match well-known token formats (AWS, GitHub, Slack,
  Stripe, Google, OpenAI keys, JWTs, PEM private-key blocks, and generic
  ``api_key = "<long value>"`` assignments) are replaced by a marker before chunking,
  keeping the line count so line numbers stay true.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

SECRET_FILE_PATTERNS: tuple[str, ...] = (
    ".env", ".env.*", "*.env", ".envrc",
    "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.kdbx", "*.asc", "*.gpg",
    "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_rsa.*", "id_dsa.*", "id_ecdsa.*", "id_ed25519.*",
    ".netrc", "_netrc", ".pgpass", ".git-credentials", ".npmrc", ".pypirc", ".htpasswd", ".dockercfg",
    "credentials", "credentials.json", "credentials.yml", "credentials.yaml", "*.credentials",
    "secrets.json", "secrets.yml", "secrets.yaml", "secrets.toml", "service-account*.json", "*.tfvars",
    "terraform.tfstate", "terraform.tfstate.backup",
)

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")),
    ("aws access key", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b")),
    ("github token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("slack webhook", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}")),
    ("stripe key", re.compile(r"\b[rs]k_live_[0-9A-Za-z]{20,}")),
    ("google api key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("openai key", re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{32,}")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("credential assignment", re.compile(
        r"(?i)(?:api[_-]?key|apikey|secret(?:[_-]?key)?|access[_-]?key|auth[_-]?token|access[_-]?token|"
        r"client[_-]?secret|password|passwd|private[_-]?key|token)[\"']?\s*[:=]\s*[\"']"
        r"(?=[^\"'\s]*[0-9])(?=[^\"'\s]*[A-Za-z])[^\"'\s]{16,}[\"']")),
    ("credentials in url", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s:@]{8,}@")),
)
_END_KEY = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")


def is_secret_file(name: str) -> bool:
    """True for a file name that exists to hold secrets (matched case-insensitively)."""
    lower = name.lower()
    if lower in (".env.example", ".env.sample", ".env.template", ".env.dist"):
        return True  # templates often carry real values too; the rule says never index .env*
    return any(fnmatch.fnmatchcase(lower, pattern) for pattern in SECRET_FILE_PATTERNS)


@dataclass
class Redaction:
    text: str
    lines: int  # how many lines were replaced
    kinds: tuple[str, ...] = ()


def redact(text: str) -> Redaction:
    """Replace token-like lines with ``[redacted <kind>]`` (indentation and line count kept)."""
    if not _might_contain_secret(text):
        return Redaction(text, 0)
    lines = text.split("\n")
    kinds: list[str] = []
    count = 0
    in_key = False
    for i, line in enumerate(lines):
        kind = None
        if in_key:
            kind = "private key"
            if _END_KEY.search(line):
                in_key = False
        else:
            for name, pattern in _PATTERNS:
                if pattern.search(line):
                    kind = name
                    break
            if kind == "private key" and not _END_KEY.search(line):
                in_key = True
        if kind is not None:
            indent = line[: len(line) - len(line.lstrip())]
            lines[i] = f"{indent}[redacted {kind}]"
            count += 1
            kinds.append(kind)
    if not count:
        return Redaction(text, 0)
    return Redaction("\n".join(lines), count, tuple(dict.fromkeys(kinds)))


_QUICK = re.compile(
    r"PRIVATE KEY|AKIA|ASIA|AGPA|AIDA|AROA|ANPA|gh[pousr]_|github_pat_|xox[abposr]-|hooks\.slack|_live_|AIza|sk-|eyJ|"
    r"(?i:key|secret|token|passw|://[^/\s]+@)"
)


def _might_contain_secret(text: str) -> bool:
    """A cheap pre-check so that most files skip the per-line scan."""
    return _QUICK.search(text) is not None
