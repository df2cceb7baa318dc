"""Load and validate the label taxonomy (``data/labels/taxonomy.yaml``).

This module is the single place label ids are defined for the whole project. It
imports only pydantic and PyYAML, so the serving app can use it without pulling
in torch or scikit-learn.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TAXONOMY_PATH = REPO_ROOT / "data" / "labels" / "taxonomy.yaml"

# The contract (../shared/spec/labels.md) fixes these ids; the YAML must match them exactly.
CONTRACT_TOPICS = (
    "infrastruktur",
    "transportasi",
    "kesehatan",
    "pendidikan",
    "lingkungan",
    "bencana",
    "sosial",
    "administrasi",
    "ketertiban",
    "utilitas",
    "ekonomi",
    "pariwisata",
    "lainnya",
)
CONTRACT_URGENCY = ("darurat", "tinggi", "sedang", "rendah")
CONTRACT_LANGS = ("id", "jv", "campur")
NOT_ROUTED_TOPIC = "lainnya"
EMERGENCY = "darurat"


class Agency(BaseModel):
    """The provincial agency a topic is routed to."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    handle: str = Field(pattern=r"^@\w{1,50}$")


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    description: str
    agency: Agency | None
    # Cold-start hints for the labelling queue (lower-case words or phrases); never used to label.
    keywords: list[str] = Field(default_factory=list)


class UrgencyLevel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    description: str
    expected_response: str


class Language(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    description: str


class TaxonomyError(ValueError):
    """The taxonomy file is missing, malformed or disagrees with the contract."""


class Taxonomy(BaseModel):
    """Topics (with their agencies), ordered urgency levels and languages."""

    model_config = ConfigDict(extra="forbid")
    version: int
    topics: list[Topic]
    urgency: list[UrgencyLevel]
    languages: list[Language]

    @model_validator(mode="after")
    def _matches_contract(self) -> Taxonomy:
        for field, ids, expected in (
            ("topics", self.topic_ids, CONTRACT_TOPICS),
            ("urgency", self.urgency_ids, CONTRACT_URGENCY),
            ("languages", self.lang_ids, CONTRACT_LANGS),
        ):
            if len(set(ids)) != len(ids):
                raise ValueError(f"{field}: duplicate ids in {ids}")
            if set(ids) != set(expected):
                missing = sorted(set(expected) - set(ids))
                extra = sorted(set(ids) - set(expected))
                raise ValueError(f"{field}: ids differ from the contract (missing {missing}, unknown {extra})")
        if tuple(self.urgency_ids) != CONTRACT_URGENCY:
            raise ValueError(f"urgency: must be ordered {list(CONTRACT_URGENCY)}")
        for topic in self.topics:
            if (topic.agency is None) != (topic.id == NOT_ROUTED_TOPIC):
                raise ValueError(f"topics: {topic.id}: only '{NOT_ROUTED_TOPIC}' has no agency")
        return self

    @property
    def topic_ids(self) -> list[str]:
        return [t.id for t in self.topics]

    @property
    def urgency_ids(self) -> list[str]:
        return [u.id for u in self.urgency]

    @property
    def lang_ids(self) -> list[str]:
        return [lang.id for lang in self.languages]

    def topic(self, topic_id: str) -> Topic:
        """Return the topic with this id (KeyError if unknown)."""
        for t in self.topics:
            if t.id == topic_id:
                return t
        raise KeyError(topic_id)

    def labels_for(self, task: str) -> list[str]:
        """Label ids of a corpus task: ``topic``, ``urgency`` or ``lang``."""
        by_task = {"topic": self.topic_ids, "urgency": self.urgency_ids, "lang": self.lang_ids}
        if task not in by_task:
            raise KeyError(f"unknown task {task!r}; expected one of {sorted(by_task)}")
        return by_task[task]


def load_taxonomy(path: str | Path = DEFAULT_TAXONOMY_PATH) -> Taxonomy:
    """Read and validate a taxonomy YAML file; raise :class:`TaxonomyError` naming the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TaxonomyError(f"{path}: cannot read taxonomy: {exc}") from exc
    try:
        return Taxonomy.model_validate(raw)
    except ValidationError as exc:
        raise TaxonomyError(f"{path}: invalid taxonomy: {exc}") from exc


@lru_cache(maxsize=4)
def default_taxonomy() -> Taxonomy:
    """The repository's taxonomy, loaded once per process."""
    return load_taxonomy(DEFAULT_TAXONOMY_PATH)
