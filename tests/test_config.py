import pytest

from training.config import CONFIG_DIR, ConfigError, load_config, parse_overrides


def test_shipped_configs_load(label_store):
    for path in sorted(CONFIG_DIR.glob("*.yaml")):
        cfg = load_config(path)
        assert cfg.task in {"topic", "urgency", "lang"}


def test_overrides_are_typed_and_nested():
    assert parse_overrides(["linear.C=2", "family=encoder", "finetune.freeze_embeddings=false"]) == {
        "linear": {"C": 2},
        "family": "encoder",
        "finetune": {"freeze_embeddings": False},
    }
    cfg = load_config("topic", ["linear.C=2.5", "seed=7"])
    assert cfg.linear.C == 2.5 and cfg.seed == 7 and cfg.family == "linear"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["family=forest"], "family"),
        (["linear.C=-1"], "linear.C"),
        (["linear.nope=1"], "linear.nope"),
        (["linear.char_ngram_min=6", "linear.char_ngram_max=3"], "char_ngram_min must be <="),
        (["finetune.learning_rate=abc"], "finetune.learning_rate"),
        (["task=bad task!"], "task"),
        (["oops"], "expected key=value"),
    ],
)
def test_invalid_values_fail_naming_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config("topic", overrides)


def test_custom_task_needs_a_file_and_corpus_task_needs_the_store(tmp_path, label_store):
    with pytest.raises(ConfigError, match="not a corpus task"):
        load_config(None, task="emot", data=label_store)
    data = tmp_path / "x.csv"
    data.write_text("text,label\na,b\n")
    with pytest.raises(ConfigError, match="reads the label store folder"):
        load_config(None, task="topic", data=data)


def test_missing_config_file_is_named():
    with pytest.raises(ConfigError, match="no-such-config"):
        load_config("no-such-config")


def test_flat_params_cover_every_field():
    flat = load_config("topic").flat()
    assert flat["linear.C"] == 0.5 and flat["encoder.model_name"] and "finetune.epochs" in flat
