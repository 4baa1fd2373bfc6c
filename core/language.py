"""The language of a piece of data on a server-rendered page (WCAG 2.1 success criterion 3.1.2,
Language of Parts).

A page is in Chinese or in English (`<html lang>`), but what people typed (a provider's or a
service's name, a contract's title, a complaint and its answer) stays in the language it was typed
in, mostly Chinese. On a page in another language such a text carries its own `lang`, so that a
screen reader reads it with a Chinese voice instead of spelling it out, or skipping it, with an
English one. Texts with no Chinese character are left to the page's language.
"""

from __future__ import annotations

import re

from markupsafe import Markup

CHINESE = "zh-CN"
HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
"""Chinese characters (the CJK Unified Ideographs, their extensions and compatibility ideographs)."""


def data_lang(text: object, page_lang: str) -> Markup:
    """` lang="zh-CN"` for an element holding TEXT when it has Chinese characters and the page is not in
    Chinese (PAGE_LANG, the page's own code: "zh" or "en"); nothing otherwise. Used in a start tag:
    `<dd{{ data_lang(name) }}>{{ name }}</dd>`."""
    if page_lang == "zh" or text is None or not HAN.search(str(text)):
        return Markup("")
    return Markup(' lang="{}"').format(CHINESE)
