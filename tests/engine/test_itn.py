import pytest

from gpu_engine.itn import inverse_normalize


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("二零二五年十月五号", "2025年10月5日"),
        ("三百八十块钱", "380块钱"),
        ("第一百零七集", "第107集"),
        ("今天是二零二五年十月五号我看了第一百零七集", "今天是2025年10月5日我看了第107集"),
        ("百分之五十", "50%"),
    ],
)
def test_mandarin_numbers_dates_and_money_come_out_written(spoken, written):
    assert inverse_normalize(spoken, "zh") == written


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("i paid twenty five dollars", "i paid $25"),
        ("on march third two thousand twenty", "on march 3 2020"),
    ],
)
def test_english_amounts_and_dates_come_out_written(spoken, written):
    assert inverse_normalize(spoken, "en") == written


def test_traditional_mandarin_uses_the_mandarin_grammar():
    assert inverse_normalize("第一百零七集", "zh-TW") == "第107集"


def test_languages_without_a_grammar_pass_through():
    assert inverse_normalize("vingt-cinq euros", "fr") == "vingt-cinq euros"
