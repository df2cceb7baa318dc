"""Command functions for ingest and language-id evaluation, registered by ``training/cli.py``.

Plain functions with typer ``Annotated`` parameters, so the lead can mount them as
``app.command("ingest")(ingest_command)`` and
``label_app.command("langid-eval")(langid_eval_command)``. Heavy imports wait until a
command runs, to keep ``kemala --help`` fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from training.config import DEFAULT_LABEL_STORE
from training.labelling.ingest import COLUMN_CANDIDATES, DEFAULT_RAW_DIR, InputFormat
from training.labelling.pool import DEFAULT_POOL_PATH


def _column_help(role: str) -> str:
    return f"CSV/JSONL {role} column (default: the first of {', '.join(COLUMN_CANDIDATES[role])} present)."


def ingest_command(
    paths: Annotated[
        list[Path], typer.Argument(help="API v2 response files or folders of page files, CSV or JSONL exports.")
    ],
    pool: Annotated[Path, typer.Option("--pool", help="The pool database.")] = DEFAULT_POOL_PATH,
    fmt: Annotated[
        InputFormat, typer.Option("--format", help="Input format; auto decides per file.")
    ] = InputFormat.auto,
    id_col: Annotated[str | None, typer.Option("--id-col", help=_column_help("id"))] = None,
    text_col: Annotated[str | None, typer.Option("--text-col", help=_column_help("text"))] = None,
    time_col: Annotated[str | None, typer.Option("--time-col", help=_column_help("time"))] = None,
    author_col: Annotated[str | None, typer.Option("--author-col", help=_column_help("author"))] = None,
    copy_raw: Annotated[
        bool, typer.Option("--copy-raw", help=f"Keep a byte-identical copy of each input under {DEFAULT_RAW_DIR}.")
    ] = False,
) -> None:
    """Add raw tweets to the unlabelled pool: retweets resolved, duplicates dropped, near-duplicates grouped."""
    from training.labelling.ingest import Columns, ingest

    columns = Columns(id=id_col, text=text_col, time=time_col, author=author_col)
    try:
        report = ingest(paths, pool=pool, fmt=fmt, columns=columns, copy_raw=copy_raw)
    except (FileNotFoundError, ValueError) as exc:
        typer.secho(str(exc), err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))


def langid_eval_command(
    store: Annotated[Path, typer.Argument(help="Label store folder.")] = DEFAULT_LABEL_STORE,
) -> None:
    """Score the language classifier and the lingua baseline on the label store's test split (JSON)."""
    from training.labelling.langid import evaluate_langid

    typer.echo(json.dumps(evaluate_langid(store), indent=2, ensure_ascii=False))
