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
# The globs above as one regex (``fnmatch``'s own translation of each, as alternatives): the
# walk asks this of every file, and one C-level match costs what one of the globs did.
_SECRET_NAME = re.compile("|".join(fnmatch.translate(pattern) for pattern in SECRET_FILE_PATTERNS))

# Each pattern starts with a literal (no leading \b) so the regex engine can skip ahead fast:
# scanning a whole file with all of them costs about as much as parsing it once.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")),
    ("aws access key", re.compile(r"A(?:KIA|SIA|GPA|IDA|ROA|NPA)[0-9A-Z]{16}\b")),
    ("github token", re.compile(r"gh(?:[pousr]_[A-Za-z0-9]{36,}|ithub_pat_[A-Za-z0-9_]{22,})")),
    ("slack token", re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}")),
    ("slack webhook", re.compile(r"hooks\.slack\.com/services/[A-Za-z0-9/]{20,}")),
    ("stripe key", re.compile(r"k_live_[0-9A-Za-z]{20,}")),
    ("google api key", re.compile(r"AIza[0-9A-Za-z_-]{35}\b")),
    ("openai key", re.compile(r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{32,}")),
    ("jwt", re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("credentials in url", re.compile(r"://[^/\s:@]+:[^/\s:@]{8,}@")),
)
# ``api_key = "<long value with letters and digits>"``: found from the quoted value (cheap to
# scan for), then confirmed by a credential-like name just before the ``=``/``:``.
_ASSIGNED_VALUE = re.compile(r"[:=][ \t]*[\"']([^\"'\s]{16,})[\"']")
_CREDENTIAL_NAME = re.compile(
    r"(?i)(?:api[_-]?key|apikey|secret|access[_-]?key|auth[_-]?token|access[_-]?token|client[_-]?secret|"
    r"password|passwd|private[_-]?key|token)[\"']?[ \t]*$")
_END_KEY = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")


def is_secret_file(name: str) -> bool:
    """True for a file name that exists to hold secrets (matched case-insensitively)."""
    lower = name.lower()
    if lower in (".env.example", ".env.sample", ".env.template", ".env.dist"):
        return True  # templates often carry real values too; the rule says never index .env*
    return _SECRET_NAME.match(lower) is not None


@dataclass
class Redaction:
    text: str
    lines: int  # how many lines were replaced
    kinds: tuple[str, ...] = ()


def redact(text: str) -> Redaction:
    """Replace token-like lines with ``[redacted <kind>]`` (indentation and line count kept).

    Each pattern scans the whole text once (in C); only the lines it hits are rewritten.
    """
    hits: dict[int, str] = {}
    for name, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            first = text.count("\n", 0, match.start())  # matches are rare: counting in C is cheapest
            last = first
            if name == "private key":
                end = _END_KEY.search(text, match.end())
                last = first + text.count("\n", match.start(), end.start() if end else len(text))
            for line in range(first, last + 1):
                hits.setdefault(line, name)
    for match in _ASSIGNED_VALUE.finditer(text) if _may_name_a_credential(text) else ():
        value = match.group(1)
        if any(c.isdigit() for c in value) and any(c.isalpha() for c in value) and \
                _CREDENTIAL_NAME.search(text, max(0, match.start() - 40), match.start()):
            hits.setdefault(text.count("\n", 0, match.start()), "credential assignment")
    if not hits:
        return Redaction(text, 0)
    lines = text.split("\n")
    for number, kind in hits.items():
        line = lines[number]
        indent = line[: len(line) - len(line.lstrip())]
        lines[number] = f"{indent}[redacted {kind}]"
    return Redaction("\n".join(lines), len(hits), tuple(dict.fromkeys(hits[n] for n in sorted(hits))))


# Every alternative of ``_CREDENTIAL_NAME`` contains one of these.  Substring tests of the
# lower-cased text are a fast C search each; a case-insensitive regex pre-check costs more than
# all the token patterns together (none of them a literal the engine can skip ahead to): it was
# two thirds of redaction, 7% of a cold index's worker CPU.
_CREDENTIAL_WORDS = ("key", "secret", "token", "passw")


def _may_name_a_credential(text: str) -> bool:
    """False when no ``api_key = "…"``-style assignment can be in ``text`` (most files are scanned for the
    quoted values, ``[:=]`` being everywhere in code, only when this is true)."""
    lower = text.lower()
    return any(word in lower for word in _CREDENTIAL_WORDS)
