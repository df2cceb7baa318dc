"""``kemala label ...``: the labelling workflow's commands, each a thin shell over the library.

The typer app ``label_app`` is mounted by ``training/cli.py``; it can also run on its own
(``python -m training.labelling.cli_label --help``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from training.config import DEFAULT_LABEL_STORE
from training.labelling.adjudicate import DEFAULT_REVIEW_QUEUE
from training.labelling.annotations import DEFAULT_ANNOTATIONS_PATH
from training.labelling.audit import AUDIT_FIELDS, DEFAULT_AUDIT_CSV
from training.labelling.feedback import DEFAULT_FEEDBACK_PATH
from training.labelling.labelstudio import DEFAULT_EXPORT_DIR
from training.labelling.pool import DEFAULT_POOL_PATH
from training.labelling.queue import DEFAULT_QUEUE_PATH, MEASURES, STRATEGIES
from training.taxonomy import REPO_ROOT

logger = logging.getLogger(__name__)

label_app = typer.Typer(
    help="Labelling workflow: queue tweets, measure agreement, adjudicate gold, audit, Label Studio, API feedback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

AnnotationsPath = Annotated[Path, typer.Option("--annotations", "-a", help="The per-annotator label store (SQLite).")]
StoreOption = Annotated[Path, typer.Option("--store", help="The gold label store folder.")]
TrackingUri = Annotated[
    str | None,
    typer.Option("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or mlflow/)."),
]


def _fail(message: str, code: int = 1) -> None:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def _load_models(model_uri: str | None, tracking_uri: str | None) -> dict:
    from training.predict import load_routing_models

    try:
        return load_routing_models(model_uri, tracking_uri)
    except Exception as exc:  # no champion yet, or an unreadable export: the queue falls back to rules
        typer.secho(f"no models loaded ({type(exc).__name__}: {exc}); using keyword rules", err=True)
        return {}


@label_app.command("queue")
def queue_cmd(
    n: Annotated[int, typer.Option("--n", "-n", help="How many tweets to queue.", min=1)] = 50,
    strategy: Annotated[
        str, typer.Option(help=f"One of {', '.join(STRATEGIES)}; model strategies fall back to cold-start.")
    ] = "uncertainty",
    measure: Annotated[str, typer.Option(help=f"Uncertainty measure: {', '.join(MEASURES)}.")] = "least_confidence",
    pool: Annotated[Path, typer.Option(help="The unlabelled pool (SQLite).")] = DEFAULT_POOL_PATH,
    output: Annotated[Path, typer.Option("--output", "-o", help="The queue file (JSONL).")] = DEFAULT_QUEUE_PATH,
    annotations: AnnotationsPath = DEFAULT_ANNOTATIONS_PATH,
    store: StoreOption = DEFAULT_LABEL_STORE,
    model_uri: Annotated[
        str | None, typer.Option(help="Default: the topic and urgency champions. Or an export folder / URI.")
    ] = None,
    tracking_uri: TrackingUri = None,
    seed: Annotated[int, typer.Option(help="Seed for random, k-means and cold-start tie-breaks.")] = 13,
    max_candidates: Annotated[
        int | None, typer.Option(help="Score a seeded sample of this many pool tweets (big pools).")
    ] = None,
) -> None:
    """Choose the next tweets to label from the pool and write them, with suggestions, to a queue file.

    Skips tweets already annotated or already in the gold store.
    """
    from training.labelling.adjudicate import store_ids
    from training.labelling.annotations import open_annotations
    from training.labelling.pool import open_pool
    from training.labelling.queue import build_queue, write_queue

    if strategy not in STRATEGIES:
        _fail(f"--strategy: unknown {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    if not pool.exists():
        _fail(f"{pool}: no pool yet (ingest tweets first)")
    models = {} if strategy == "cold-start" else _load_models(model_uri, tracking_uri)
    try:
        items = build_queue(
            open_pool(pool),
            n,
            strategy,
            models,
            open_annotations(annotations),
            measure=measure,
            seed=seed,
            exclude_ids=store_ids(store),
            max_candidates=max_candidates,
        )
    except ValueError as exc:
        _fail(str(exc))
    write_queue(output, items)
    used = sorted({i.strategy for i in items})
    typer.echo(f"{len(items)} tweets queued ({', '.join(used) or 'none'}) -> {output}")


@label_app.command("agreement")
def agreement_cmd(
    annotations: AnnotationsPath = DEFAULT_ANNOTATIONS_PATH,
    output: Annotated[Path, typer.Option("--output", "-o", help="Markdown report.")] = REPO_ROOT
    / "reports"
    / "agreement.md",
    json_output: Annotated[Path | None, typer.Option("--json", help="Also write the figures as JSON.")] = None,
) -> None:
    """Inter-annotator agreement: Cohen's kappa per pair, Krippendorff's alpha, per-class confusions."""
    from training.labelling.agreement import agreement_report, render_markdown
    from training.labelling.annotations import open_annotations
    from training.labels import atomic_writer

    report = agreement_report(open_annotations(annotations))
    text = render_markdown(report)
    with atomic_writer(output) as fh:
        fh.write(text)
    if json_output is not None:
        with atomic_writer(json_output) as fh:
            json.dump(report, fh, ensure_ascii=False, indent=2)
    typer.echo(text)
    typer.echo(f"report: {output}")


@label_app.command("adjudicate")
def adjudicate_cmd(
    annotations: AnnotationsPath = DEFAULT_ANNOTATIONS_PATH,
    store: StoreOption = DEFAULT_LABEL_STORE,
    review_queue: Annotated[Path, typer.Option(help="Where disputed tweets go (JSONL).")] = DEFAULT_REVIEW_QUEUE,
    min_annotators: Annotated[
        int, typer.Option(help="Tweets with fewer annotators wait (not gold, not flagged).", min=1)
    ] = 1,
) -> None:
    """Majority labels become gold (corpus/annotated-YYYYMMDD.jsonl); ties and disagreements go to review."""
    from training.labelling.adjudicate import adjudicate
    from training.labelling.annotations import open_annotations
    from training.labels import LabelFileError

    try:
        result = adjudicate(open_annotations(annotations), store, review_queue, min_annotators)
    except (LabelFileError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(result.summary())
    if result.gold:
        typer.echo("new gold rows have no split yet: run `kemala labels split`")


@label_app.command("resolve")
def resolve_cmd(
    tweet_id: Annotated[str, typer.Argument(help="The disputed tweet.")],
    reviewer: Annotated[str, typer.Option(help="Who decides (recorded as adjudicated:<reviewer>).")],
    topic: Annotated[str, typer.Option(help="The topic id.")],
    urgency: Annotated[str, typer.Option(help="The urgency id.")],
    lang: Annotated[str, typer.Option(help="The language id.")],
    annotations: AnnotationsPath = DEFAULT_ANNOTATIONS_PATH,
    store: StoreOption = DEFAULT_LABEL_STORE,
    review_queue: Annotated[Path, typer.Option(help="The review queue to remove it from.")] = DEFAULT_REVIEW_QUEUE,
) -> None:
    """Settle a flagged tweet: the reviewer's labels are appended as gold and it leaves the review queue."""
    from training.labelling.adjudicate import resolve
    from training.labelling.annotations import open_annotations
    from training.labels import LabelFileError

    try:
        row = resolve(open_annotations(annotations), tweet_id, reviewer, topic, urgency, lang, store, review_queue)
    except (LabelFileError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(f"{row.id}: {row.topic} / {row.urgency} / {row.lang} ({row.annotator})")


@label_app.command("audit")
def audit_cmd(
    store: StoreOption = DEFAULT_LABEL_STORE,
    output: Annotated[Path, typer.Option("--output", "-o", help="The review list (CSV).")] = DEFAULT_AUDIT_CSV,
    field: Annotated[list[str] | None, typer.Option(help="Fields to audit (repeatable).")] = None,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.", min=2)] = 5,
    seed: Annotated[int, typer.Option(help="Fold shuffling seed.")] = 13,
) -> None:
    """List likely label errors in the gold set (cleanlab, out-of-fold probabilities); never changes labels."""
    from training.labelling.audit import audit
    from training.labels import LabelFileError

    try:
        frame = audit(store, field or list(AUDIT_FIELDS), output, folds, seed)
    except (LabelFileError, ValueError, KeyError, FileNotFoundError) as exc:
        _fail(str(exc))
    for name, count in frame.groupby("field").size().items():
        typer.echo(f"{name}: {count} row(s) to review")
    typer.echo(f"review list: {output}")


@label_app.command("export-labelstudio")
def export_labelstudio_cmd(
    queue: Annotated[Path, typer.Option(help="The queue file to export.")] = DEFAULT_QUEUE_PATH,
    tasks: Annotated[Path, typer.Option(help="Label Studio tasks JSON.")] = DEFAULT_EXPORT_DIR / "tasks.json",
    config: Annotated[Path, typer.Option(help="Label Studio labelling config XML.")] = DEFAULT_EXPORT_DIR
    / "config.xml",
) -> None:
    """Write the queue as Label Studio tasks (with pre-annotations) and the labelling config."""
    from training.labelling.labelstudio import export_tasks
    from training.labelling.queue import read_queue

    try:
        items = read_queue(queue)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    export_tasks(items, tasks, config)
    typer.echo(f"{len(items)} tasks -> {tasks}; labelling config -> {config}")


@label_app.command("import-labelstudio")
def import_labelstudio_cmd(
    export: Annotated[Path, typer.Argument(help="Label Studio JSON export (Export > JSON).")],
    annotations: AnnotationsPath = DEFAULT_ANNOTATIONS_PATH,
) -> None:
    """Read a Label Studio JSON export into the annotation store (annotator = the user's email or id)."""
    from training.labelling.annotations import open_annotations
    from training.labelling.labelstudio import import_annotations

    try:
        result = import_annotations(open_annotations(annotations), export)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    for error in result.errors:
        typer.secho(error, err=True, fg=typer.colors.YELLOW)
    typer.echo(f"imported {result.imported} annotation(s); {result.cancelled} cancelled; {len(result.errors)} bad")
    if result.errors:
        raise typer.Exit(1)


@label_app.command("import-feedback")
def import_feedback_cmd(
    feedback: Annotated[Path, typer.Option(help="The routing API's feedback file (JSONL).")] = DEFAULT_FEEDBACK_PATH,
    annotations: AnnotationsPath = DEFAULT_ANNOTATIONS_PATH,
) -> None:
    """Bring reviewer corrections from the routing API into the annotation store as feedback:<reviewer>."""
    from training.labelling.annotations import open_annotations
    from training.labelling.feedback import import_feedback

    result = import_feedback(open_annotations(annotations), feedback)
    for error in result.errors:
        typer.secho(error, err=True, fg=typer.colors.YELLOW)
    typer.echo(f"imported {result.imported} correction(s); {len(result.errors)} bad line(s)")
    if result.errors:
        raise typer.Exit(1)


if __name__ == "__main__":
    label_app()
