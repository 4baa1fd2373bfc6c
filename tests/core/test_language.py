"""core.language: Chinese data on a page in another language carries lang="zh-CN" (WCAG 2.1 SC 3.1.2)."""

from __future__ import annotations

import pytest

from core.language import data_lang


@pytest.mark.parametrize(
    ("text", "page_lang", "attribute"),
    [
        ("上海颐康居家养老服务有限公司", "en", ' lang="zh-CN"'),
        ("Provider 7 居家养老", "en", ' lang="zh-CN"'),  # any Chinese character in it
        ("𠀀", "en", ' lang="zh-CN"'),  # an ideograph outside the basic plane (extension B)
        ("上海颐康居家养老服务有限公司", "zh", ""),  # the page's own language
        ("Provider 7", "en", ""),
        ("“Skip” – 12345", "en", ""),  # typographic punctuation is no Chinese
        ("", "en", ""),
        (None, "en", ""),
    ],
)
def test_data_lang(text, page_lang, attribute):
    assert data_lang(text, page_lang) == attribute


def test_the_attribute_is_markup_the_text_never_in_it():
    marked = data_lang("<script>居家</script>", "en")
    assert str(marked) == ' lang="zh-CN"' and hasattr(marked, "__html__")
