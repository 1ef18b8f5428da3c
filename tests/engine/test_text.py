from gpu_engine.funasr_backend import _hotword_option
from gpu_engine.text import chinese_script, model_language


def test_mandarin_is_simplified_unless_traditional_was_asked_for() -> None:
    assert chinese_script("廣州市房地產", language="zh", requested="auto") == "广州市房地产"
    assert chinese_script("廣州市房地產", language="zh", requested="zh") == "广州市房地产"
    assert chinese_script("广州市房地产", language="zh", requested="zh-TW") == "廣州市房地產"


def test_other_languages_keep_their_characters() -> None:
    # Japanese kanji are not Chinese characters to convert.
    assert chinese_script("東京の會議", language="ja", requested="auto") == "東京の會議"
    assert chinese_script("Hello", language="en", requested="auto") == "Hello"


def test_models_are_asked_for_plain_language_codes() -> None:
    assert model_language("auto") is None
    assert model_language("zh-TW") == "zh"
    assert model_language("en") == "en"


def test_hotwords_reach_funasr_as_words_only(tmp_path) -> None:
    assert _hotword_option(("达摩院", "魔搭")) == {"hotword": "达摩院 魔搭"}
    assert _hotword_option(()) == {}
    # FunASR would read a hotword string naming a file, and fetch one that is a URL.
    assert _hotword_option((str(tmp_path),)) == {}
    assert _hotword_option(("https://example.com/words.txt",)) == {}


def test_transcript_text_puts_spaces_between_words_but_not_between_cjk_characters():
    from gpu_engine.types import join_texts

    assert join_texts(["Hello there.", " ", "General Kenobi."]) == "Hello there. General Kenobi."
    mixed = ["欢迎大家", "来体验。", "OK then", "好的"]
    assert join_texts(mixed) == "欢迎大家来体验。 OK then 好的"
