"""Third attack round, the smaller findings (16): dates, invisible titles, bidi controls in the
terminal, variation selectors in questions, giant URLs."""

from __future__ import annotations

from datetime import date

import pytest

from bot.cli import main
from bot.cli.terminal import literal, printable
from bot.sources.corpus import CorpusError, publication_date
from bot.sources.web.urlguard import UrlRefused
from conftest import write_config

TEXT = "The harbour ferry stops running in December because the operator lost money. " * 3


@pytest.mark.parametrize("published", ["last tuesday", "2020-13-45", "10/09/2020", "x" * 500])
def test_published_must_be_a_date(make_bot, published):
    bot = make_bot()
    with pytest.raises(CorpusError, match="published must be a date"):
        bot.add_source(TEXT, "Ferry", published=published)


def test_a_moderators_date_may_not_be_in_the_future():
    today = date(2026, 12, 5)
    assert publication_date("2026-12-06", today) == "2026-12-06"  # already tomorrow east of UTC
    for later in ("2026-12-07", "2999-01-01"):
        with pytest.raises(ValueError, match=f"{later} is in the future"):
            publication_date(later, today)


def test_the_cli_refuses_a_future_date(make_bot, tmp_path, capsys):
    make_bot()
    note = tmp_path / "note.txt"
    note.write_text(TEXT)
    argv = ["--config", str(write_config(tmp_path)), "sources", "add", "--file", str(note)]
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--title", "Ferry", "--published", "2999-01-01"])
    assert exit_.value.code == 2
    assert "2999-01-01 is in the future" in capsys.readouterr().err


@pytest.mark.parametrize("published", ["2020-09-10", "2020-10-01T12:00:00+00:00", ""])
def test_dates_pages_and_feeds_give_are_accepted(make_bot, published):
    assert make_bot().add_source(TEXT, "Ferry", published=published).published == published


@pytest.mark.parametrize("title", ["\u200b\u200b", "\u200d\ufeff", "\u202e ", "\ufe0f", "\u2060"])
def test_a_title_of_invisible_characters_is_refused(make_bot, title):
    with pytest.raises(CorpusError, match="needs a title"):
        make_bot().add_source(TEXT, title)


def test_metadata_is_stored_as_one_clean_line(make_bot):
    bot = make_bot()
    added = bot.add_source(
        TEXT, "Ferry\x1b[31m news\u202e\nstops", publisher="Harbour\tTimes", added_by="mod\nroot"
    )
    stored = bot.corpus.find(added.id)[1]
    assert (stored.title, stored.publisher, stored.added_by) == (
        "Ferry [31m news stops",
        "Harbour Times",
        "mod root",
    )


def test_the_cli_refuses_a_bad_date_in_one_line(make_bot, tmp_path, capsys):
    make_bot()
    config = write_config(tmp_path)
    note = tmp_path / "note.txt"
    note.write_text(TEXT)
    argv = ["--config", str(config), "sources", "add", "--file", str(note), "--title", "Ferry"]
    with pytest.raises(SystemExit) as exit_:  # a usage error (argparse), like a bad option
        main([*argv, "--published", "last tuesday"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "must be a date like 2020-09-10" in err and "Traceback" not in err


def test_bidi_controls_never_reach_the_terminal():
    title = "Invoice \u202egnp.exe\u202c and \u2066isolated\u2069 \u200fmark"
    for shown in (printable(title), literal(title)):
        assert not any(c in shown for c in "\u202e\u202c\u2066\u2069\u200f")
        assert len(printable(title)) == len(title)  # one character for one


def test_variation_selectors_do_not_change_an_answer(make_bot):
    bot = make_bot(config={"semantic": {"enabled": False}})
    plain = bot.ask("Who directed Cuties?")
    styled = bot.ask("Who directed Cuties\ufe0f?\U000e0100")
    assert styled.question == plain.question
    assert [e.start for e in styled.excerpts] == [e.start for e in plain.excerpts]


def test_a_giant_url_is_refused_for_feeds_and_sources(make_bot):
    bot = make_bot()
    url = "https://example.org/" + "a" * 20_000
    with pytest.raises(UrlRefused, match="20,020 characters long"):
        bot.feeds_add(url)
    assert bot.feeds_list() == []
    with pytest.raises(UrlRefused, match="characters long"):
        bot.open_story.curation.ingestor.add_url_sync(url)
