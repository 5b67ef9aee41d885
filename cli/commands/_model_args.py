"""Flags shared by the commands that drive a model (complete, explain, ask, serve)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="NAME",
                        help="model: preset (`repo-assistant models`), Hugging Face id, local directory or .gguf")
    parser.add_argument("--base-url", metavar="URL",
                        help="use an OpenAI-compatible server instead of a local model (sets model.backend=openai)")
    parser.add_argument("--device", metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps")


def model_overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    values: dict[str, Any] = {"name": args.model, "device": args.device}
    if args.base_url:
        values.update(base_url=args.base_url, backend="openai")
    return {"model": values}


def progress_to_stderr(message: str) -> None:
    """Model-loading progress: one line each on stderr, so stdout stays the answer."""
    print(message, file=sys.stderr, flush=True)
