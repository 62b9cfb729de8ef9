from helpers import source


def test_bot_answers_from_a_temp_corpus(make_bot):
    bot = make_bot(source("extra", "The festival jury praised the cinematography of the film."))
    answer = bot.ask("What did the jury praise?")
    assert answer.answered
    assert answer.excerpts[0].source.id == "extra"
