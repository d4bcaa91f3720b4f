"""Chinese search for the book: the domain's words (复投, 获客成本, 留存率 ...) as whole words.

Sphinx indexes Chinese pages with jieba when it is installed; without a dictionary of the
domain's words jieba cuts 复投率 into 复 + 投率 and a search for 复投 finds nothing. This
extension loads _static/search_dict.txt (the glossary's Chinese terms and the metric labels)
into jieba before the index is built.

It also keeps the Latin words Sphinx's Chinese splitter has seen in a set: Sphinx 7.4 keeps them
in a list that grows with every text it splits and looks every word up in it, so the index took
longer the longer the book (6 of the 12 seconds of a build of the 1M-user book). The index is the
same byte for byte. Its English stemmer is PyStemmer's compiled one when installed
(requirements.txt): snowballstemmer's own, in Python, took about 0.6 s of that build.
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


class _Terms(set):
    """A set that takes `list.extend`, as SearchChinese.split calls it."""

    def extend(self, items) -> None:
        self.update(items)


def _chinese_search():
    """Sphinx's Chinese search language with its Latin terms in a set (`_Terms`)."""
    from sphinx.search.zh import SearchChinese

    class SetTermsSearchChinese(SearchChinese):
        def init(self, options: dict[str, str]) -> None:
            super().init(options)
            self.latin_terms = _Terms()  # per index, not the class's list shared by all

    return SetTermsSearchChinese


def setup(app):
    app.connect("builder-inited", _load_words)
    app.add_search_language(_chinese_search())
    return {"parallel_read_safe": True, "parallel_write_safe": True}
