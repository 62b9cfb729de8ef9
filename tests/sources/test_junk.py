"""Junk is refused: near-empty extractions and exact copies of a source (``force`` overrides);
a .md or .html document's own title is the default title; the loopback refusal says how to
allow a host."""

from __future__ import annotations

import pytest
from web_server import serve

from bot.cli import main
from bot.sources.decoding import DocumentError
from bot.sources.ingest import MIN_WORDS, JunkSource
from bot.sources.web.urlguard import UrlGuard, UrlRefused
from conftest import SHIPPED_CORPUS, write_config

web = pytest.fixture(serve)
LOCAL = {"fetch": {"allow_hosts": ["127.0.0.1"], "timeout_seconds": 2.0}}
ARTICLE = (
    "The harbour ferry runs twice a day, at seven in the morning and at six in the evening. "
    "The crossing takes forty minutes; tickets are sold on board, and bicycles travel free. "
    "In winter the evening crossing is cancelled when the wind is strong.\n"
)


def words(n: int) -> bytes:
    return " ".join(f"word{i}" for i in range(n)).encode()


def test_near_empty_text_is_refused_unless_forced(make_bot):
    bot = make_bot()
    with pytest.raises(JunkSource, match=r"has 2 word\(s\) \(13 characters\)"):
        bot.add_file("page.txt", b"Access denied", title="Page")
    with pytest.raises(JunkSource, match=f"at least {MIN_WORDS}"):
        bot.add_file("short.txt", words(MIN_WORDS - 1), title="Short")
    assert bot.add_file("enough.txt", words(MIN_WORDS), title="Enough").source.id == "enough"
    forced = bot.add_file("page.txt", b"Access denied", title="Page", force=True)
    assert forced.source.text == "Access denied"
    assert {s.id for s in bot.sources} == {"seed-story", "enough", "page"}


def test_an_exact_copy_is_refused_unless_forced(make_bot):
    bot = make_bot()
    story = bot.source("seed-story").text
    for copy in (story, "\n" + story.strip() + "\n\n"):  # the same text, give or take blank ends
        with pytest.raises(JunkSource, match="exactly that of source 'seed-story'"):
            bot.add_file("copy.txt", copy.encode(), title="Copy")
    # One changed word is not a copy: added, with the near-duplicate note.
    near = bot.add_file("near.txt", story.replace("Netflix", "The platform", 1).encode(), title="N")
    assert near.near_duplicate is not None and near.near_duplicate[0] == "seed-story"
    forced = bot.add_file("copy.txt", story.encode(), title="Copy", force=True)
    assert forced.near_duplicate == ("seed-story", 1.0)


async def test_a_near_empty_page_is_refused_and_skipped_when_followed(web, make_bot):
    bot = make_bot(config=LOCAL)
    web.html("/wall", "<html><body><article><p>Please enable JavaScript.</p></article></body>")
    with pytest.raises(JunkSource, match=r"3 word\(s\)"):
        await bot.add_url(web.url("/wall"))
    report = await bot.add_url(web.url("/wall"), force=True)
    assert report.added[0].source.text.strip() == "Please enable JavaScript."
    # A followed link with junk text is skipped with the reason; force is for the page asked.
    body = "".join(f"<p>{ARTICLE}</p>" for _ in range(2))
    web.html("/links", f"<html><body><article>{body}<a href='/wall2'>wall</a></article></body>")
    web.html("/wall2", "<html><body><article><p>Subscribe to read.</p></article></body>")
    report = await bot.add_url(web.url("/links"), follow=1, force=True)
    assert [a.source.url for a in report.added] == [web.url("/links")]
    assert report.skipped == [(web.url("/wall2"), report.skipped[0][1])]
    assert "word(s)" in report.skipped[0][1]


def test_documents_give_their_own_title(make_bot):
    bot = make_bot()
    md = bot.add_file("ferry.md", b"# Harbour ferry timetable\n\n" + ARTICLE.encode())
    assert md.source.title == "Harbour ferry timetable"
    html = (
        "<html><head><title>Ferry times change</title></head><body><article>"
        f"<p>{ARTICLE}</p><p>{ARTICLE.replace('ferry', 'boat')}</p></article></body></html>"
    )
    assert bot.add_file("times.html", html.encode()).source.title == "Ferry times change"
    assert bot.add_file("given.md", b"# Own\n\n" + words(40), title="Given").source.title == "Given"
    for name, data in (
        ("no-heading.md", ARTICLE.encode()),
        ("plain.txt", b"Title\n\n" + words(40)),
    ):
        with pytest.raises(DocumentError, match="no heading or title of its own; give a title"):
            bot.add_file(name, data)


def test_the_loopback_refusal_says_how_to_allow_the_host():
    guard = UrlGuard(resolver=lambda host, port: ["127.0.0.1"])
    with pytest.raises(UrlRefused) as refused:
        guard.check_url("http://localhost:8000/page")
    message = str(refused.value)
    assert "loopback" in message
    assert '[fetch] allow_hosts = ["localhost"]' in message and "config.toml" in message


def test_cli_add_refuses_junk_with_the_force_hint_and_defaults_the_title(tmp_path, capsys):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "seed-story.txt").write_bytes(
        (SHIPPED_CORPUS / "seed-story.txt").read_bytes()
    )
    cfg = ["--config", str(write_config(tmp_path)), "sources", "add", "--file"]
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("Access denied")
    assert main([*cfg, str(tiny), "--title", "Tiny"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "not added: the text has 2 word(s)" in err and "(--force adds it anyway)" in err
    assert main([*cfg, str(tiny), "--title", "Tiny", "--force"]) == 0
    copy = tmp_path / "copy.txt"
    copy.write_bytes((tmp_path / "corpus" / "seed-story.txt").read_bytes().split(b"+++\n", 2)[2])
    assert main([*cfg, str(copy), "--title", "Copy"]) == 1
    assert "exactly that of source 'seed-story'" in capsys.readouterr().err
    note = tmp_path / "ferry.md"
    note.write_text("# Harbour ferry timetable\n\n" + ARTICLE)
    assert main([*cfg, str(note)]) == 0
    assert "added harbour-ferry-timetable: Harbour ferry timetable" in capsys.readouterr().out
    plain = tmp_path / "ferry.txt"
    plain.write_text(ARTICLE)
    assert main([*cfg, str(plain)]) == 2
    assert "--title is required with a .txt file" in capsys.readouterr().err
