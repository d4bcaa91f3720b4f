"""Chinese search for the book: the domain's words (复投, 获客成本, 留存率 ...) as whole words.

Sphinx indexes Chinese pages with jieba when it is installed; without a dictionary of the
domain's words jieba cuts 复投率 into 复 + 投率 and a search for 复投 finds nothing. This
extension loads _static/search_dict.txt (the glossary's Chinese terms and the metric labels)
into jieba before the index is built.
"""

from __future__ import annotations

from pathlib import Path


def _load_words(app) -> None:
    words = Path(app.confdir) / "_static" / "search_dict.txt"
    try:
        import jieba
    except ImportError:  # Sphinx then indexes no Chinese word at all: the tests see it
        return
    if words.is_file():
        jieba.load_userdict(str(words))


def setup(app):
    app.connect("builder-inited", _load_words)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
