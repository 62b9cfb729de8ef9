"""The terms rule: what becomes an index term, for passages and questions alike."""

import pytest

from bot.search.text import MAX_CHUNK_CHARS, indexable_end, paragraphs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Films DANCED", ["film", "dance"]),
        ("The girls were dancing", ["girl", "dance"]),
        ("over 300,000 people", ["300000", "people"]),
        ("an 18+ rating", ["18+", "18", "rate"]),
        ("the TV-MA-rated film", ["tv-ma-rated", "tv", "ma", "rate", "film"]),
        ("in 2019.", ["2019"]),
        ("Doucouré", ["doucoure"]),
        ("Doucoure", ["doucoure"]),
        ("What is the main character's name?", ["main", "character", "name"]),
        ("a 50% share", ["50%", "50", "share"]),
        ("Change.org", ["change.org"]),
    ],
)
def test_terms_rule(analyzer, text, expected):
    assert analyzer.terms(text) == expected


def test_stop_words_and_punctuation_give_no_terms(analyzer):
    assert analyzer.terms("Who is it, and what would they have been?!") == []
    assert analyzer.terms("... — !!! ???") == []


def test_token_terms_keep_offsets(analyzer):
    text = 'Netflix said "TV-MA" twice.'
    for token in analyzer.token_terms(analyzer.doc(text)):
        assert text[token.start : token.end].strip() == text[token.start : token.end]
    spans = {text[t.start : t.end] for t in analyzer.token_terms(analyzer.doc(text))}
    assert {"Netflix", "TV-MA", "TV", "MA"} <= spans


def test_navigation_block_is_not_indexable():
    story = "A story.\n\n" * 20 + "Check these out:\n\nSome unrelated headline\n"
    end = indexable_end(story)
    assert story[:end].rstrip().endswith("A story.")
    assert "unrelated" in story[end:]


def test_early_related_marker_keeps_the_body():
    text = "Related stories:\n\n" + "Body sentence.\n\n" * 10
    assert indexable_end(text) == len(text)


def test_paragraphs_split_on_blank_lines_and_cut_huge_lines():
    text = "One.\nStill one.\n\n\nTwo.  \n \nThree."
    assert [text[a:b] for a, b in paragraphs(text)] == ["One.\nStill one.", "Two.", "Three."]
    huge = "word " * (MAX_CHUNK_CHARS // 2)
    spans = list(paragraphs(huge))
    assert len(spans) >= 2
    assert all(b - a <= MAX_CHUNK_CHARS for a, b in spans)
    assert "".join(huge[a:b] for a, b in spans).replace(" ", "") == huge.replace(" ", "")


def test_stems_are_snowballs_own_and_come_from_its_c_implementation():
    """PyStemmer (C) must give exactly the pure-Python Snowball stems the caches and the
    evaluation were built with, on the ~50k words and lemmas of spaCy's English lemma table."""
    import gzip
    import json
    from importlib.resources import files

    import snowballstemmer
    from snowballstemmer.english_stemmer import EnglishStemmer

    from bot.search.text import stem

    assert type(snowballstemmer.stemmer("english")).__module__ == "Stemmer"  # the C one
    table = files("spacy_lookups_data") / "data" / "en_lemma_lookup.json.gz"
    lemmas = json.loads(gzip.decompress(table.read_bytes()))
    words = sorted({w.lower() for pair in lemmas.items() for w in pair})
    python = EnglishStemmer()
    assert len(words) > 40_000
    assert [stem(w) for w in words] == [python.stemWord(w) for w in words]
