"""Length rules (X's weighting, Mastodon's and Bluesky's counts) and templates: URLs, emoji,
CJK, combining marks; a bad template is one clear error naming the field."""

from __future__ import annotations

import pytest

from repfit.host.posts.length import BLUESKY, MASTODON, LengthRule, X, x_weighted_length
from repfit.host.posts.template import (
    DEFAULT_TEMPLATES,
    FIELDS,
    PostFacts,
    PostTemplate,
    TemplateError,
)

LONG_URL = "https://example.com/" + "a" * 100


@pytest.mark.parametrize(("text", "weight"), [
    ("", 0),
    ("20 push-ups", 11),
    ("café", 4),                      # Latin-1 and Latin Extended weigh 1
    ("cafe\u0301", 4),                # NFC: e + combining acute is one "é"
    ("日本語", 6),                     # CJK weighs 2 a character
    ("腕立て伏せ 20回", 15),
    ("한국어", 6),
    ("“quoted” — dash", 15),          # U+2010-U+201F punctuation weighs 1
    ("…", 2),                         # U+2026 is outside the light ranges
    ("💪", 2),
    ("👍🏽", 2),                        # emoji + skin tone: one emoji
    ("👨‍👩‍👧‍👦", 2),                      # ZWJ family of seven code points: one emoji
    ("🇫🇷", 2),                        # a flag: two regional indicators
    ("1️⃣", 2),                        # keycap
    ("❤️", 2),                        # heart + variation selector
    (LONG_URL, 23),
    ("see " + LONG_URL + ".", 4 + 23 + 1),
    ("www.example.org/x and example.com", 23 + 5 + 23),
    ("two https://a.io/1 https://b.io/2", 4 + 23 + 1 + 23),
])
def test_x_weighted_length(text: str, weight: int) -> None:
    assert x_weighted_length(text) == weight


def test_x_limit_is_280_weighted() -> None:
    assert X.fits("a" * 280) and not X.fits("a" * 281)
    assert X.fits("日" * 140) and not X.fits("日" * 141)
    assert X.fits("💪" * 140) and not X.fits("💪" * 141)
    assert X.fits(" ".join([LONG_URL] * 11))  # 11 URLs: 11*23 + 10 spaces = 263


def test_mastodon_counts_graphemes_and_urls_as_23() -> None:
    assert MASTODON.length(LONG_URL) == 23
    assert MASTODON.length("日本語 👨‍👩‍👧‍👦 e\u0301") == 7
    assert MASTODON.fits("日" * 500) and not MASTODON.fits("日" * 501)
    custom = LengthRule("graphemes", 1000, url_length=23)
    assert custom.fits("x" * 1000)


def test_bluesky_counts_graphemes_and_bytes_urls_as_written() -> None:
    assert BLUESKY.length(LONG_URL) == len(LONG_URL)
    assert BLUESKY.fits("👨‍👩‍👧‍👦" * 120)               # 120 graphemes, 3000 bytes
    assert not BLUESKY.fits("👨‍👩‍👧‍👦" * 121)           # over 3000 bytes, not over 300
    assert BLUESKY.fits("日" * 300) and not BLUESKY.fits("日" * 301)


@pytest.mark.parametrize("rule", [X, MASTODON, BLUESKY])
@pytest.mark.parametrize("unit", ["a", "日", "💪", "👨‍👩‍👧‍👦", "e\u0301"])
def test_fit_cuts_at_a_grapheme_and_keeps_the_suffix(rule: LengthRule, unit: str) -> None:
    fitted = rule.fit(unit * 700, " [verified]")
    assert rule.fits(fitted) and fitted.endswith("… [verified]")
    body = fitted.removesuffix("… [verified]")
    assert body == unit * (len(body) // len(unit))   # whole clusters only
    assert not rule.fits(unit * (len(body) // len(unit) + 2) + "… [verified]")


def test_fit_never_cuts_inside_a_url() -> None:
    text = "x" * 240 + " " + LONG_URL + " and more words here " * 10
    fitted = X.fit(text)
    assert X.fits(fitted) and "https://" not in fitted.split()[-1]
    assert X.fit("short") == "short"


# ---------------------------------------------------------------------- templates

FACTS = PostFacts(exercise="pompes", done="8/20 reps", reps="8", target="20", outcome="partial",
                  streak="4", today="28 pompes", metric="valid auc 0.8123",
                  metric_change="valid auc +0.0042 vs the previous run (better)")


def test_default_templates_render_every_kind() -> None:
    for kind, source in DEFAULT_TEMPLATES.items():
        text = PostTemplate(source, f"posts.x.{kind}").render(FACTS, X)
        assert "verified" in text and "$" not in text and "  " not in text


def test_template_fills_fields_and_always_labels_the_mode() -> None:
    t = PostTemplate("${exercise}: $done, streak $streak 🔥 $$5 bet", "posts.x.template")
    assert t.render(FACTS) == "pompes: 8/20 reps, streak 4 🔥 $5 bet [verified]"
    honour = PostFacts(exercise="腕立て伏せ", done="20/20 reps", mode="honour mode")
    assert t.render(honour) == "腕立て伏せ: 20/20 reps, streak 🔥 $5 bet [honour mode]"
    placed = PostTemplate("($mode) $exercise", "k")
    assert placed.render(FACTS) == "(verified) pompes"


def test_a_long_post_is_cut_but_keeps_its_label() -> None:
    facts = PostFacts(exercise="腕立て伏せ" * 100, done="1/2 reps")
    for rule in (X, MASTODON, BLUESKY):
        text = PostTemplate("$mode: $exercise $done", "k").render(facts, rule)
        assert rule.fits(text) and text.startswith("verified: ") and "[verified]" not in text
        text = PostTemplate("$exercise $done", "k").render(facts, rule)
        assert rule.fits(text) and text.endswith("… [verified]")


def test_unknown_field_is_one_clear_error_naming_it() -> None:
    with pytest.raises(TemplateError) as info:
        PostTemplate("$exercise done, streak ${strek}", "posts.x.template")
    message = str(info.value)
    assert message.startswith("posts.x.template: unknown field $strek")
    assert "\n" not in message and all(f in message for f in FIELDS)


@pytest.mark.parametrize(("source", "where"), [
    ("costs 5$ today", "line 1, column 8"),
    ("ok\n${exercise", "line 2, column 1"),
    ("$ alone", "line 1, column 1"),
])
def test_template_syntax_error_names_line_and_column(source: str, where: str) -> None:
    with pytest.raises(TemplateError, match=f"posts.mastodon.template: a '\\$' at {where}"):
        PostTemplate(source, "posts.mastodon.template")
