"""Rebuild the SQuAD 2.0 evaluation set the benchmarks read (``../shared/eval/squad2-dev20``)
from the official SQuAD 2.0 dev file, for a clone that lacks the shared folder.

    .venv/bin/python bench/squad_subset.py dev-v2.0.json ../shared/eval/squad2-dev20

``dev-v2.0.json`` is the SQuAD 2.0 dev set (Rajpurkar, Jia and Liang, 2018; CC BY-SA 4.0),
published on the SQuAD site (https://rajpurkar.github.io/SQuAD-explorer/). It is not part of
this repository and is never downloaded by it: fetch it yourself. The output is what
``storybot eval DIR``, ``bench/quality.py`` and ``bench/feeds_relevance.py`` read:

- ``stories/<title>.txt``: each of the 20 articles' paragraphs in order, a blank line between;
- ``questions.jsonl``: per question ``article``, ``story_file``, ``id``, ``question``,
  ``answers`` (the distinct gold answers, ``[]`` when unanswerable), ``is_impossible`` and
  ``paragraph_index``;
- ``manifest.json``: the articles and the counts (6,816 questions, 3,446 answerable).

The member-phrased questions (``member-questions.jsonl``) were written by the team and cannot be
rebuilt; without them ``bench/quality.py`` leaves out the "member" rows.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

# The 20 dev articles the README's and docs' figures were measured on, in manifest order.
ARTICLES = (
    "Normans", "Sky_(United_Kingdom)", "Victoria_(Australia)", "Huguenot", "Steam_engine",
    "Oxygen", "1973_oil_crisis", "Ctenophora", "Packet_switching", "Black_Death",
    "Civil_disobedience", "Construction", "Private_school", "Economic_inequality",
    "University_of_Chicago", "Prime_number", "Rhine", "Scottish_Parliament", "Warsaw", "Force",
)  # fmt: skip


def story_name(title: str) -> str:
    """A file name for an article title: "Sky_(United_Kingdom)" -> "Sky__United_Kingdom"."""
    return re.sub(r"[^\w-]", "_", title).strip("_")


def build(squad: dict, out: Path, titles: tuple[str, ...] = ARTICLES) -> dict:
    """Write the story set for ``titles`` from a parsed SQuAD 2.0 file; returns the manifest."""
    by_title = {article["title"]: article for article in squad["data"]}
    missing = [t for t in titles if t not in by_title]
    if missing:
        raise SystemExit(f"not in this SQuAD file: {', '.join(missing)}")
    (out / "stories").mkdir(parents=True, exist_ok=True)
    manifest: dict = {"articles": [], "questions": 0, "answerable": 0}
    with (out / "questions.jsonl").open("w", encoding="utf-8") as questions:
        for title in titles:
            article = by_title[title]
            story_file = f"stories/{story_name(title)}.txt"
            paragraphs = [p["context"].strip() for p in article["paragraphs"]]
            (out / story_file).write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
            asked = answerable = 0
            for index, paragraph in enumerate(article["paragraphs"]):
                for qa in paragraph["qas"]:
                    answers = list(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                    record = {
                        "article": title,
                        "story_file": story_file,
                        "id": qa["id"],
                        "question": qa["question"],
                        "answers": answers,
                        "is_impossible": bool(qa.get("is_impossible", False)),
                        "paragraph_index": index,
                    }
                    questions.write(json.dumps(record, ensure_ascii=False) + "\n")
                    asked += 1
                    answerable += not record["is_impossible"]
            manifest["articles"].append(
                {
                    "title": title,
                    "story_file": story_file,
                    "paragraphs": len(paragraphs),
                    "questions": asked,
                    "answerable": answerable,
                }
            )
            manifest["questions"] += asked
            manifest["answerable"] += answerable
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("squad", type=Path, help="SQuAD 2.0 dev JSON (dev-v2.0.json)")
    parser.add_argument("out", type=Path, help="where to write the story set")
    args = parser.parse_args()
    try:
        squad = json.loads(args.squad.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        sys.exit(f"cannot read {args.squad}: {exc}")
    manifest = build(squad, args.out)
    print(f"{len(manifest['articles'])} articles, {manifest['questions']} questions "
          f"({manifest['answerable']} answerable) in {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
