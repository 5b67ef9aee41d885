"""``repo-assistant models``: the model presets, with context length and memory per precision."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from cli.registry import CliContext, Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.models.presets import PRESETS, get_preset

    current = ctx.settings.model.name
    current_preset = get_preset(current)
    rows = []
    for preset in PRESETS.values():
        rows.append({
            "name": preset.name, "source": preset.source, "family": preset.family, "kind": preset.kind,
            "params_b": preset.params_b, "context_window": preset.context_window, "fim": preset.fim,
            "memory_gb": {p: round(preset.memory_gb(p), 1) for p in ("bf16", "8bit", "4bit")},
            "kv_cache_gb_per_16k_tokens": round(preset.kv_cache_gb(16_384), 2),
            "note": preset.note, "current": current_preset is preset,
        })
    if args.json:
        print(json.dumps({"current": current, "backend": ctx.settings.model.backend, "presets": rows}, indent=2))
        return 0
    table = Table(title="Model presets (memory: weights + ~15% runtime, GB; KV cache extra)", title_justify="left")
    for name in ("preset", "Hugging Face id", "family", "params", "context", "FIM", "bf16", "8-bit", "4-bit",
                 "KV@16K", "note"):
        table.add_column(name, no_wrap=name != "note")
    for row in rows:
        mem = row["memory_gb"]
        table.add_row(
            ("* " if row["current"] else "") + row["name"], row["source"], row["family"],
            f"{row['params_b']:g}B", f"{row['context_window'] // 1024}K", "yes" if row["fim"] else "no",
            f"{mem['bf16']:g}", f"{mem['8bit']:g}", f"{mem['4bit']:g}", f"{row['kv_cache_gb_per_16k_tokens']:g}",
            row["note"],
        )
    console = ctx.console
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        from rich.console import Console

        console = Console(width=200)
    console.print(table)
    where = "" if current_preset else " (not a preset: a Hugging Face id, local directory or .gguf)"
    console.print(
        f"Current: [bold]{current}[/bold]{where}, backend {ctx.settings.model.backend}. "
        "Choose with --model NAME or `--set model.name=NAME`; a served model with "
        "`--set model.backend=openai --set model.base_url=http://HOST:PORT/v1`."
    )
    return 0


COMMAND = Command(
    name="models",
    help="list the model presets with context length and memory estimates",
    add_arguments=_add_arguments,
    run=_run,
    order=70,
)
