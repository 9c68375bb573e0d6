"""Near-duplicates where it matters (issue #19): the LSH shape meets the threshold, partial copies are reported with
their passage, and a round of works that copy each other is shown in linear time."""
from __future__ import annotations

import random
from datetime import datetime, timezone

from common import neardup
from tests import textgen


def test_the_lsh_shape_misses_a_pair_at_the_threshold_less_than_once_in_a_hundred():
    miss = 1 - neardup.candidate_probability(neardup.THRESHOLD, neardup.BANDS, neardup.ROWS, neardup.AGREE)
    assert miss < 0.01 and neardup.PERMUTATIONS == neardup.BANDS * neardup.ROWS
    # the old 48 bands of 4 (any one band) missed a pair at 0.4 29 % of the time
    assert abs((1 - neardup.candidate_probability(0.4, 48, 4, 1)) - 0.288) < 0.01
    # the fewest bands: one fewer misses more than allowed
    assert 1 - neardup.candidate_probability(0.3, neardup.BANDS - 1, 3, 2) > neardup.MISS
    assert neardup.choose_bands(0.3, 0.01, 4, 1) == 567


def _sentences(text: str) -> list[str]:
    return [s + "。" for s in text.split("。") if s]


def test_pairs_at_jaccard_point_three_to_point_four_are_found():
    rng = random.Random(19)
    docs, pairs = [], []
    while len(pairs) < 300:
        original = _sentences(textgen.story(rng))
        kept = rng.choice((4, 5))
        copy = rng.sample(original, kept) + _sentences(textgen.story(rng, sentences=9 - kept))
        rng.shuffle(copy)
        a, b = f"o{len(pairs):03d}", f"c{len(pairs):03d}"
        sim = neardup.jaccard(neardup.features("".join(original)), neardup.features("".join(copy)))
        if 0.3 <= sim <= 0.4:
            docs += [(a, "".join(original)), (b, "".join(copy))]
            pairs.append((b, a))  # as a match names them: in order
    found = {(m.a, m.b) for m in neardup.near_duplicates(neardup.fingerprints(docs)) if m.kind == "near_duplicate"}
    recall = len(found & set(pairs)) / len(pairs)
    print(f"pairs at Jaccard 0.3-0.4: {recall:.3f} found")
    assert recall >= 0.99
    assert found <= set(pairs)  # nothing else is a near-duplicate: precision 1


def test_a_story_copying_two_thirds_of_another_into_new_text_is_a_partial_copy_with_its_passage():
    rng = random.Random(23)
    original = _sentences(textgen.story(rng))
    borrowed = "".join(original[1:7])
    new = textgen.story(rng, sentences=8) + borrowed + textgen.story(rng, sentences=8)
    docs = [("a", "".join(original)), ("b", new)] + [(f"x{i}", textgen.story(rng)) for i in range(50)]
    fa, fb = neardup.features(docs[0][1]), neardup.features(new)
    assert neardup.jaccard(fa, fb) < neardup.THRESHOLD <= 0.4 <= neardup.containment(fa, fb)
    [match] = neardup.near_duplicates(neardup.fingerprints(docs))
    assert (match.a, match.b, match.kind) == ("a", "b", "partial_copy") and match.containment >= 0.4
    passage, _ = neardup.overlapping_passage(docs[0][1], new)
    assert len(passage) >= len(original[1]) and passage.strip("。") in borrowed


def test_unrelated_stories_on_the_theme_are_not_reported():
    rng = random.Random(29)
    docs = [(f"s{i:04d}", textgen.story(rng)) for i in range(1500)]
    assert neardup.near_duplicates(neardup.fingerprints(docs)) == []


def test_a_round_of_works_copying_each_other_cuts_passages_linearly(monkeypatch):
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from services.review.models import Base, Entry, Round, TextMatch
    from services.review.operations import texts

    calls = []
    cut = neardup.overlapping_passage
    monkeypatch.setattr(neardup, "overlapping_passage", lambda a, b, context=0: calls.append(1) or cut(a, b, context))
    rng = random.Random(31)
    story = textgen.story(rng)

    def shown(n: int) -> tuple[int, dict]:
        engine = create_engine("sqlite://")
        Base.metadata.create_all(engine)
        with Session(engine) as s:
            s.add(Round(id="r", tenant="seu", campaign_id="c", track="story", level="university", title="校级评审"))
            works = [Entry(submission_id=f"w{i:03d}", tenant="seu", campaign_id="c", track="story", stage="s",
                           title=f"作品{i}", fields={"text": story + f"第{i}稿。"}, state="submitted", round_id="r")
                     for i in range(n)]
            s.add_all(works)
            s.add_all(TextMatch(a=f"w{i:03d}", b=f"w{j:03d}", similarity=0.98, containment=0.99, kind="near_duplicate",
                                found_at=datetime(2020, 7, 1, tzinfo=timezone.utc))
                      for i in range(n) for j in range(i + 1, n))
            s.flush()
            calls.clear()
            out = texts.matches_for(s, works, s.get(Round, "r"))
            return len(calls), out

    small, out = shown(20)
    large, _ = shown(80)
    assert small <= texts.MATCHES_SHOWN * 20 and large <= texts.MATCHES_SHOWN * 80  # was n * (n - 1)
    assert len(out["w000"]) == texts.MATCHES_SHOWN and out["w000"][-1]["more"] == 19 - texts.MATCHES_SHOWN
    assert out["w000"][0]["passage"] and out["w000"][0]["other"].startswith("《作品")


def test_the_review_index_finds_a_copy_and_a_partial_copy_and_records_their_kind():
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from services.review.models import Base, TextBand, TextMatch
    from services.review.operations.texts import index_text

    rng = random.Random(23)
    original = textgen.story(rng)
    borrowed = "".join(_sentences(original)[1:7])
    partial = textgen.story(rng, sentences=8) + borrowed + textgen.story(rng, sentences=8)
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        for i in range(30):
            assert index_text(s, f"x{i:02d}", "seu", neardup.fingerprint(f"x{i:02d}", textgen.story(rng))) == []
        assert index_text(s, "a", "seu", neardup.fingerprint("a", original)) == []
        [copy] = index_text(s, "b", "wust", neardup.fingerprint("b", textgen.edited_copy(original, rng)))
        # the partial copy borrows from the original, and so from its edited copy too
        part, via_copy = sorted(index_text(s, "c", "hust", neardup.fingerprint("c", partial)), key=lambda m: m.a)
        assert (via_copy.a, via_copy.b, via_copy.kind) == ("b", "c", "partial_copy")
        assert (copy.a, copy.b, copy.kind) == ("a", "b", "near_duplicate") and copy.similarity >= 0.3
        assert (part.a, part.b, part.kind) == ("a", "c", "partial_copy") and part.containment >= 0.4
        assert s.scalar(select(TextBand.band).where(TextBand.submission_id == "a").order_by(TextBand.band.desc())) \
            == neardup.BANDS - 1
        assert len(s.scalars(select(TextMatch)).all()) == 3


def test_migration_0013_makes_the_kept_prints_bands_again_so_earlier_works_are_still_found(tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from common.db import migrate
    from common.settings import migrations_dir
    from services.review.operations.texts import index_text

    url = f"sqlite:///{tmp_path / 'review.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir("review")))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "0011")
    rng = random.Random(37)
    original = textgen.story(rng)
    engine = create_engine(url)
    with engine.begin() as conn:  # a work indexed before, with a band of the old shape
        conn.execute(text("INSERT INTO text_prints (submission_id, tenant, features) VALUES ('old', 'seu', :f)"),
                     {"f": __import__("json").dumps(sorted(neardup.features(original)))})
        conn.execute(text("INSERT INTO text_bands (band, key, submission_id) VALUES (0, 'ffff', 'old')"))
    migrate(url, migrations_dir("review"))
    with Session(engine) as s:
        assert s.execute(text("SELECT count(*) FROM text_bands WHERE submission_id = 'old'")).scalar() \
            == neardup.BANDS
        [match] = index_text(s, "new", "wust", neardup.fingerprint("new", textgen.edited_copy(original, rng)))
        assert (match.a, match.b, match.kind) == ("new", "old", "near_duplicate")
