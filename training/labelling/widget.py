"""The labelling widget behind ``notebooks/labelling.ipynb``: one tweet at a time, one click per field.

The widget shows the tweet, its region and the queue's suggestions, and one button per label id
for topic, urgency and language. The third choice saves the tweet's labels at once
(:func:`training.labelling.annotations.save_annotation`, one transaction) and moves on, so
closing the notebook never loses more than the tweet on screen. Reopening resumes at the first
queued tweet this annotator has not labelled. "Back" reopens the previous tweet with the saved
labels selected, to correct them; "Skip" leaves a tweet for later.

All logic lives here and runs without Jupyter (the handlers are plain methods), so it is tested
like any other module; the notebook only builds it from environment variables and displays it.
"""

from __future__ import annotations

import getpass
import html
import logging
import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from training.labelling.annotations import (
    DEFAULT_ANNOTATIONS_PATH,
    LABEL_FIELDS,
    annotations_for,
    open_annotations,
    progress,
    save_annotation,
)
from training.labelling.queue import DEFAULT_QUEUE_PATH, QueueItem, read_queue
from training.taxonomy import Taxonomy, default_taxonomy

logger = logging.getLogger(__name__)

ENV_QUEUE = "KEMALA_QUEUE"
ENV_ANNOTATIONS = "KEMALA_ANNOTATIONS"
ENV_ANNOTATOR = "KEMALA_ANNOTATOR"
_TITLES = {"topic": "Topic", "urgency": "Urgency", "lang": "Language"}


def default_annotator() -> str:
    """The annotator name when ``KEMALA_ANNOTATOR`` is not set: the login name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "anonymous"


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Queue path, annotation store path and annotator from the environment, with repo defaults."""
    env = os.environ if environ is None else environ
    return {
        "queue_path": Path(env.get(ENV_QUEUE) or DEFAULT_QUEUE_PATH),
        "annotations_path": Path(env.get(ENV_ANNOTATIONS) or DEFAULT_ANNOTATIONS_PATH),
        "annotator": env.get(ENV_ANNOTATOR) or default_annotator(),
    }


def _describe_suggestions(suggestions: Mapping[str, Any]) -> list[str]:
    lines = []
    for task, preds in (suggestions.get("predictions") or {}).items():
        shown = ", ".join(f"{p['label']} ({p['confidence']:.2f})" for p in preds)
        lines.append(f"model {task}: {shown}")
    hits = suggestions.get("rule_hits") or {}
    if hits:
        lines.append("keywords: " + "; ".join(f"{t} ← {', '.join(words)}" for t, words in hits.items()))
    if suggestions.get("lang"):
        lines.append(f"language guess: {suggestions['lang']}")
    return lines


class LabellingWidget:
    """Label a queue one tweet at a time; each tweet's labels are saved on the third click.

    ``view`` is the ipywidgets box to display. The handlers (:meth:`choose`, :meth:`skip`,
    :meth:`back`) are what the buttons call, and can be called directly.
    """

    def __init__(
        self,
        items: Sequence[QueueItem],
        conn: sqlite3.Connection,
        annotator: str,
        taxonomy: Taxonomy | None = None,
    ):
        if not annotator or not annotator.strip():
            raise ValueError("annotator: must not be empty")
        self.items = list(items)
        self.conn = conn
        self.annotator = annotator
        self.taxonomy = taxonomy or default_taxonomy()
        self.ids = [item.tweet_id for item in self.items]
        self.done = {a.tweet_id for a in annotations_for(conn, self.ids, annotator=annotator)}
        self.choice: dict[str, str | None] = dict.fromkeys(LABEL_FIELDS)
        self.history: list[int] = []  # positions shown, for "back"
        self.message = ""
        self._build()
        self.position: int | None = self._next_open(0)
        self._render()

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        queue_path: str | Path = DEFAULT_QUEUE_PATH,
        annotations_path: str | Path = DEFAULT_ANNOTATIONS_PATH,
        annotator: str | None = None,
        taxonomy: Taxonomy | None = None,
    ) -> LabellingWidget:
        """A widget over a queue file and an annotation store (created if missing)."""
        return cls(
            read_queue(queue_path), open_annotations(annotations_path), annotator or default_annotator(), taxonomy
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LabellingWidget:
        """A widget configured by ``KEMALA_QUEUE``, ``KEMALA_ANNOTATIONS`` and ``KEMALA_ANNOTATOR``."""
        return cls.open(**settings_from_env(environ))

    def _build(self) -> None:
        self.header = widgets.HTML()
        self.tweet = widgets.HTML()
        self.status = widgets.HTML()
        self.progress_box = widgets.HTML()
        self.buttons: dict[str, dict[str, widgets.Button]] = {}
        rows = []
        hints = {
            "topic": {t.id: t.description for t in self.taxonomy.topics},
            "urgency": {u.id: u.description for u in self.taxonomy.urgency},
            "lang": {lang.id: lang.description for lang in self.taxonomy.languages},
        }
        for field in LABEL_FIELDS:
            self.buttons[field] = {}
            for label in self.taxonomy.labels_for(field):
                button = widgets.Button(
                    description=label, tooltip=hints[field][label], layout=widgets.Layout(width="auto")
                )
                button.on_click(lambda _b, f=field, v=label: self.choose(f, v))
                self.buttons[field][label] = button
            rows.append(widgets.HTML(f"<b>{_TITLES[field]}</b>"))
            rows.append(widgets.HBox(list(self.buttons[field].values()), layout=widgets.Layout(flex_flow="row wrap")))
        self.back_button = widgets.Button(description="◀ Back", tooltip="Reopen the previous tweet")
        self.skip_button = widgets.Button(description="Skip ▶", tooltip="Leave this tweet for later")
        self.back_button.on_click(lambda _b: self.back())
        self.skip_button.on_click(lambda _b: self.skip())
        self.view = widgets.VBox(
            [
                self.header,
                self.tweet,
                *rows,
                widgets.HBox([self.back_button, self.skip_button]),
                self.status,
                self.progress_box,
            ]
        )

    # -- state -------------------------------------------------------------------------------
    @property
    def current(self) -> QueueItem | None:
        """The tweet on screen (``None`` when the queue is done)."""
        return None if self.position is None else self.items[self.position]

    @property
    def finished(self) -> bool:
        return self.position is None

    def _next_open(self, start: int) -> int | None:
        # The first tweet at or after ``start`` not yet labelled by this annotator; then wrap
        # around, so skipped tweets come back once the rest are done.
        n = len(self.items)
        for offset in range(n):
            i = (start + offset) % n
            if self.ids[i] not in self.done:
                return i
        return None

    def progress(self) -> dict[str, Any]:
        """Done/queued for this annotator, and their per-class counts (see annotations.progress)."""
        return progress(self.conn, self.ids, annotator=self.annotator, taxonomy=self.taxonomy)

    # -- handlers ----------------------------------------------------------------------------
    def choose(self, field: str, label: str) -> None:
        """Select a label for a field; the third field chosen saves the tweet and moves on."""
        if field not in LABEL_FIELDS:
            raise ValueError(f"field: unknown {field!r}; expected one of {', '.join(LABEL_FIELDS)}")
        if label not in self.taxonomy.labels_for(field):
            raise ValueError(f"{field}: unknown label id {label!r}")
        item = self.current
        if item is None:
            return
        self.choice[field] = label
        if all(self.choice[f] is not None for f in LABEL_FIELDS):
            self._save(item)
        else:
            self.message = ""
            self._render()

    def _save(self, item: QueueItem) -> None:
        save_annotation(
            self.conn,
            item.tweet_id,
            self.annotator,
            self.choice["topic"],
            self.choice["urgency"],
            self.choice["lang"],
            item.text,
            item.source,
            region=item.region,
            created_at=item.created_at,
            taxonomy=self.taxonomy,
        )
        self.done.add(item.tweet_id)
        self.message = f"saved {html.escape(item.tweet_id)}: " + " / ".join(
            html.escape(str(self.choice[f])) for f in LABEL_FIELDS
        )
        logger.info("%s labelled %s as %s", self.annotator, item.tweet_id, self.choice)
        self._move(self._next_open(self.position + 1 if self.position is not None else 0))

    def skip(self) -> None:
        """Leave the current tweet unlabelled and show the next open one."""
        if self.position is None:
            return
        following = [i for i in range(self.position + 1, len(self.items)) if self.ids[i] not in self.done]
        self.message = f"skipped {html.escape(self.ids[self.position])}"
        self._move(following[0] if following else self._next_open(0))

    def back(self) -> None:
        """Reopen the previously shown tweet with this annotator's saved labels selected."""
        if not self.history:
            self.message = "nothing to go back to"
            self._render()
            return
        previous = self.history.pop()
        self.position = previous
        saved = annotations_for(self.conn, [self.ids[previous]], annotator=self.annotator)
        self.choice = saved[0].labels() if saved else dict.fromkeys(LABEL_FIELDS)
        self.message = "relabel: your earlier labels are selected; choose again to change them" if saved else ""
        self._render()

    def _move(self, position: int | None) -> None:
        if self.position is not None and position != self.position:
            self.history.append(self.position)
        self.position = position
        self.choice = dict.fromkeys(LABEL_FIELDS)
        self._render()

    # -- display -----------------------------------------------------------------------------
    def _render(self) -> None:
        report = self.progress()
        item = self.current
        self.header.value = f"<b>{html.escape(self.annotator)}</b> · done {report['done']} / {report['queued']}"
        if item is None:
            self.tweet.value = "<h3>All queued tweets are labelled. Thank you!</h3>"
        else:
            parts = [
                f"<div style='font-size:1.2em;white-space:pre-wrap'>{html.escape(item.text)}</div>",
                f"<div>region: <b>{html.escape(item.region or 'unknown')}</b> · id {html.escape(item.tweet_id)}</div>",
            ]
            parts += [
                f"<div style='color:#555'>{html.escape(line)}</div>" for line in _describe_suggestions(item.suggestions)
            ]
            self.tweet.value = "\n".join(parts)
        for field, buttons in self.buttons.items():
            for label, button in buttons.items():
                button.button_style = "success" if self.choice[field] == label else ""
                button.disabled = item is None
        self.skip_button.disabled = item is None
        self.back_button.disabled = not self.history
        self.status.value = self.message
        counts = []
        for field, per in report["per_class"].items():
            shown = ", ".join(f"{label} {n}" for label, n in per.items() if n)
            counts.append(f"<div>{_TITLES[field]}: {html.escape(shown) or '—'}</div>")
        self.progress_box.value = "".join(counts)
