"""The book's search extension (_ext/gl_search.py): Sphinx's Chinese index, made quicker."""

from __future__ import annotations

import importlib.util

from sphinx.search.zh import SearchChinese

from growthloop import PROJECT_ROOT


def _extension():
    spec = importlib.util.spec_from_file_location("gl_search", PROJECT_ROOT / "_ext" / "gl_search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _App:
    def __init__(self) -> None:
        self.languages: list[type] = []
        self.events: list[str] = []

    def add_search_language(self, cls: type) -> None:
        self.languages.append(cls)

    def connect(self, event: str, handler) -> None:
        self.events.append(event)


def test_the_chinese_search_splits_and_stems_as_sphinx_does_with_a_set_of_latin_terms() -> None:
    app = _App()
    _extension().setup(app)
    (ours,) = app.languages
    assert ours.lang == "zh" and issubclass(ours, SearchChinese) and app.events == ["builder-inited"]
    texts = ["渠道 ROI 与 LTV/CAC：Markov 归因 running runs", "UTM utm_source baidu_sem 首投 ran",
             "RFM 的 R、F、M 分布 ies news"]
    sphinx, mine = SearchChinese({}), ours({})
    for text in texts:
        words = sphinx.split(text)
        assert mine.split(text) == words
        assert [mine.stem(w) for w in words] == [sphinx.stem(w) for w in words]
    # the Latin terms seen so far: a set of this index's own, not the class's growing list
    assert isinstance(mine.latin_terms, set) and "LTV" in mine.latin_terms
    assert ours({}).latin_terms == set()


def test_the_index_stems_with_the_compiled_snowball_stemmer() -> None:
    # snowballstemmer hands the stemming to PyStemmer (C) when it is installed: its own
    # pure-Python stemmer took about 0.6 s of the 1M book's build (requirements.txt)
    import snowballstemmer

    stemmer = snowballstemmer.stemmer("english")
    assert type(stemmer).__module__ == "Stemmer"
    assert stemmer.stemWord("conversions") == "convers"
