from training.normalize import NormalizerConfig, normalize, repair


def test_masked_tokens_mentions_and_urls_become_one_form():
    text = "RT @pln_123: [USERNAME] USER listrik mati https://t.co/AbC123xYz HTTPURL URL"
    assert normalize(text) == "@user @user listrik mati http http http"


def test_byte_escaped_emoji_are_decoded():
    assert repair(r"banjir lagi \xf0\x9f\x98\xad") == "banjir lagi 😭"


def test_latin1_mojibake_is_fixed():
    assert repair("jalan rusak parah ðŸ˜¡") == "jalan rusak parah 😡"


def test_literal_newlines_and_html_entities():
    assert normalize(r"air &amp; listrik\nmati") == "air & listrik mati"


def test_repeated_letters_are_capped_and_emoji_spaced():
    assert normalize("parahhhhh😭😭 bangeeet") == "parahh 😭 😭 bangeet"


def test_settings_can_switch_steps_off():
    cfg = NormalizerConfig(lowercase=False, replace_mentions=False, max_repeat=0, space_emoji=False)
    assert normalize("@PLN_123 Matiii", cfg) == "@PLN_123 Matiii"


def test_javanese_script_and_unicode_survive():
    assert normalize("ꦧꦚ꧀ꦗꦶꦂ banjir") == "ꦧꦚ꧀ꦗꦶꦂ banjir"
