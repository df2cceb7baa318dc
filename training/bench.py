"""Benchmarks (``make bench``): every family on the corpus and on public data, as JSON and Markdown.

Not part of CI's pass/fail. Public data are read from ``../shared/benchmarks`` (an option) and
skipped with a message when absent; they are never copied into the repository. Models are
selected on each dataset's validation split only; a held-back test file can be scored the
same way with ``--extra NAME=PATH``.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from training.config import DEFAULT_LABEL_STORE, load_config
from training.taxonomy import REPO_ROOT
from training.train import train

logger = logging.getLogger(__name__)
DEFAULT_OUT = REPO_ROOT / "bench" / "results"
FAMILIES = ("linear", "encoder", "finetune")

# name -> (folder under the benchmarks dir, text column, label column)
PUBLIC = {
    "nusax-jav": ("nusax-senti/javanese", "text", "label"),
    "nusax-ind": ("nusax-senti/indonesian", "text", "label"),
    "emot": ("emot", "tweet", "label"),
}
# Published macro-F1 on the held-back *test* splits (../shared/benchmarks/README.md).
PUBLISHED = {
    "nusax-jav": {
        "NB": 69.4,
        "SVM": 71.3,
        "LR": 73.7,
        "mBERT": 73.2,
        "XLM-R base": 78.9,
        "IndoBERT large": 85.6,
        "XLM-R large": 84.2,
    },
    "nusax-ind": {
        "NB": 73.1,
        "SVM": 78.7,
        "LR": 74.7,
        "mBERT": 78.0,
        "XLM-R base": 88.4,
        "IndoBERT large": 90.2,
        "XLM-R large": 91.6,
    },
    "emot": {"IndoBERT base": 75.5, "IndoBERT large": 77.1, "XLM-R large": 78.5, "IndoBERTweet": 79.0},
}
# Small grids, chosen on validation macro-F1 (the fine-tuned family uses early stopping instead).
GRIDS: dict[str, list[list[str]]] = {
    "linear": [["linear.C=0.1"], ["linear.C=0.5"], ["linear.C=2"]],
    "encoder": [["encoder.C=1"], ["encoder.C=10"], ["encoder.C=100"]],
    "finetune": [[]],
}


@dataclass
class BenchConfig:
    """What to benchmark and where to write it."""

    benchmarks_dir: Path = REPO_ROOT.parent / "shared" / "benchmarks"
    families: tuple[str, ...] = FAMILIES
    corpus_tasks: tuple[str, ...] = ("topic", "urgency")
    public: tuple[str, ...] = tuple(PUBLIC)
    extra: dict[str, Path] = field(default_factory=dict)  # public benchmark name -> labelled test file
    out_dir: Path = DEFAULT_OUT
    tracking_uri: str | None = None
    overrides: tuple[str, ...] = ()
    name: str | None = None  # output file stem; default "bench" (all families) or "bench-<families>"

    def __post_init__(self) -> None:
        unknown = set(self.families) - set(FAMILIES)
        if unknown:
            raise ValueError(f"families: unknown {sorted(unknown)}; choose from {FAMILIES}")
        unknown = (set(self.public) | set(self.extra)) - set(PUBLIC)
        if unknown:
            raise ValueError(f"public/extra: unknown benchmark(s) {sorted(unknown)}; choose from {list(PUBLIC)}")


def _run(cfg_fields: dict[str, Any], overrides: list[str], tracking_uri: str | None) -> dict[str, Any]:
    cfg = load_config(
        None, ["log_model=false", "register_model=false", "experiment=kemala-bench", *overrides], **cfg_fields
    )
    return train(cfg, tracking_uri)


def _select(family: str, fields: dict[str, Any], base: list[str], tracking_uri: str | None) -> dict[str, Any]:
    """Best grid point on valid macro-F1; for the encoder, timings come from a cold-cache rerun of it."""
    runs = [(grid, _run(fields, [*base, *grid], tracking_uri)) for grid in GRIDS[family]]
    grid, best = max(runs, key=lambda r: r[1]["valid_macro_f1"])
    if family == "encoder":
        # Grid runs share cached embeddings; speed must be measured as a fresh model would run.
        cold = _run(fields, [*base, *grid, "encoder.cache_embeddings=false"], tracking_uri)
        for key in ("train_seconds", "valid_tweets_per_second", "test_tweets_per_second"):
            if key in cold:
                best[key] = cold[key]
    return best


def bench_corpus(cfg: BenchConfig) -> list[dict[str, Any]]:
    """Every family on both corpus tasks: test macro-F1, darurat recall, time, throughput."""
    rows = []
    for task in cfg.corpus_tasks:
        for family in cfg.families:
            logger.info("bench corpus %s / %s", task, family)
            fields = {"task": task, "family": family, "data": DEFAULT_LABEL_STORE}
            best = _select(family, fields, list(cfg.overrides), cfg.tracking_uri)
            rows.append(
                {
                    "task": task,
                    "family": family,
                    "run_id": best["run_id"],
                    "valid_macro_f1": best["valid_macro_f1"],
                    "test_macro_f1": best["test_macro_f1"],
                    "test_accuracy": best["test_accuracy"],
                    "test_darurat_recall": best.get("test_darurat_recall"),
                    "test_macro_f1_id": best.get("test_macro_f1_id"),
                    "test_macro_f1_jv": best.get("test_macro_f1_jv"),
                    "test_macro_f1_campur": best.get("test_macro_f1_campur"),
                    "train_seconds": best["train_seconds"],
                    "predict_tweets_per_second": best["test_tweets_per_second"],
                }
            )
    return rows


def bench_public(cfg: BenchConfig) -> tuple[list[dict[str, Any]], list[str]]:
    """Every family on the public datasets: valid macro-F1 (selected on valid), plus any extra test file."""
    rows, skipped = [], []
    for name in cfg.public:
        folder, text_col, label_col = PUBLIC[name]
        train_file = cfg.benchmarks_dir / folder / "train.csv"
        valid_file = cfg.benchmarks_dir / folder / "valid.csv"
        if not train_file.exists() or not valid_file.exists():
            message = f"{name}: skipped, {train_file.parent} not found (pass --benchmarks-dir)"
            logger.warning(message)
            skipped.append(message)
            continue
        for family in cfg.families:
            logger.info("bench public %s / %s", name, family)
            fields = {"task": name.replace("-", "_"), "family": family, "data": train_file}
            base = [f"valid_data={valid_file}", f"text_col={text_col}", f"label_col={label_col}"]
            if name in cfg.extra:
                base.append(f"test_data={cfg.extra[name]}")
            best = _select(family, fields, [*base, *cfg.overrides], cfg.tracking_uri)
            rows.append(
                {
                    "dataset": name,
                    "family": family,
                    "run_id": best["run_id"],
                    "valid_macro_f1": best["valid_macro_f1"],
                    "extra_test_macro_f1": best.get("test_macro_f1"),
                    "train_seconds": best["train_seconds"],
                    "predict_tweets_per_second": best["valid_tweets_per_second"],
                    "published_test_macro_f1": PUBLISHED[name],
                }
            )
    return rows, skipped


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v * 100:.1f}" if isinstance(v, float) and v <= 1 else (f"{v:.0f}" if isinstance(v, float) else str(v))


def to_markdown(result: dict[str, Any]) -> str:
    """A short Markdown report of a benchmark result."""
    lines = [
        f"# Kemala benchmarks ({result['finished_at']}, {result['machine']})",
        "",
        f"Command: `{result['command']}`",
    ]
    if result["corpus"]:
        lines += [
            "",
            "## Corpus test split (macro-F1 ×100; selected on valid)",
            "",
            "| task | family | valid F1 | test F1 | test acc | darurat recall | F1 id/jv/campur | train s | tweets/s |",
            "|---|---|--:|--:|--:|--:|---|--:|--:|",
        ]
        for r in result["corpus"]:
            langs = "/".join(_fmt(r[f"test_macro_f1_{k}"]) for k in ("id", "jv", "campur"))
            lines.append(
                f"| {r['task']} | {r['family']} | {_fmt(r['valid_macro_f1'])} | {_fmt(r['test_macro_f1'])} | "
                f"{_fmt(r['test_accuracy'])} | {_fmt(r['test_darurat_recall'])} | {langs} | "
                f"{r['train_seconds']:.1f} | {r['predict_tweets_per_second']:.0f} |"
            )
    if result["public"]:
        lines += [
            "",
            "## Public data (valid macro-F1 ×100; published numbers are on the held-back test split)",
            "",
            "| dataset | family | valid F1 | extra test F1 | train s | best published (test) |",
            "|---|---|--:|--:|--:|---|",
        ]
        for r in result["public"]:
            pub = max(r["published_test_macro_f1"].items(), key=lambda kv: kv[1])
            lines.append(
                f"| {r['dataset']} | {r['family']} | {_fmt(r['valid_macro_f1'])} | "
                f"{_fmt(r['extra_test_macro_f1'])} | {r['train_seconds']:.1f} | {pub[0]} {pub[1]} |"
            )
    lines += [f"- {s}" for s in result["skipped"]]
    return "\n".join(lines) + "\n"


def run_bench(cfg: BenchConfig, command: str = "kemala bench") -> dict[str, Any]:
    """Run the benchmarks and write ``bench.json`` and ``bench.md`` under ``cfg.out_dir``."""
    t0 = time.perf_counter()
    corpus = bench_corpus(cfg) if cfg.corpus_tasks else []
    public, skipped = bench_public(cfg) if cfg.public else ([], [])
    result = {
        "command": command,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs, {platform.python_version()}",
        "seconds": time.perf_counter() - t0,
        "corpus": corpus,
        "public": public,
        "skipped": skipped,
    }
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    stem = cfg.name or ("bench" if set(cfg.families) == set(FAMILIES) else "bench-" + "-".join(cfg.families))
    (cfg.out_dir / f"{stem}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (cfg.out_dir / f"{stem}.md").write_text(to_markdown(result), encoding="utf-8")
    logger.info("benchmarks written to %s", cfg.out_dir / f"{stem}.md")
    return result
