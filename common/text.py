"""Chinese text rules: counting 字数, cleaning and comparing submitted text.

Works arrive as text pasted from Word, WeChat articles and web pages, in
Simplified or Traditional script, with emoji, zero-width characters and line
breaks in the middle of words. Two different needs follow from that:

* **Counting** (`count_chars`) must agree with what the submitter sees in a
  Chinese word processor, because limits such as "不超过300字" are checked
  against it and the error message has to be believable. It never changes the
  text it counts.
* **Analysis and comparison** (`normalise`, `normalise_name`,
  `starts_with_org_name`) want one canonical form: Simplified script, no emoji,
  no invisible characters, words that were broken across lines joined again.
  These functions return new strings; callers keep the submitter's original.

The counting rule in one place (also returned by `describe_count_rule`):

* each Han character counts 1, and so does each kana or Hangul character;
* each punctuation mark counts 1, full-width or half-width alike, and so does
  each other visible symbol (×, ℃, ￥, №, %, ★ ...);
* a maximal run of letters and/or digits of alphabetic scripts counts 1 as a
  whole ("abc123" is 1, "COVID-19" is 3: "COVID", "-", "19");
* whitespace (including U+3000 and NBSP), line breaks, invisible characters
  (zero-width spaces and joiners, soft hyphen, BOM, variation selectors,
  control characters) and emoji count 0.

Emoji are judged per grapheme cluster (``\\X``), never per code point, so a
keycap ("9️⃣" = "9" U+FE0F U+20E3), a flag, a skin-tone modifier or a ZWJ family
disappears as a whole instead of leaving a stray "9" behind.

Everything here is pure Python on top of two maintained packages: ``regex``
(Unicode properties, grapheme clusters, set operations, variable-length
lookbehind) and ``opencc`` (the official OpenCC binding, Traditional to
Simplified).
"""
from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from typing import Iterable

import regex

__all__ = [
    "count_chars",
    "describe_count_rule",
    "join_broken_lines",
    "normalise",
    "normalise_name",
    "single_line_problem",
    "starts_with_org_name",
    "strip_invisible",
    "to_simplified",
]

# ---------------------------------------------------------------------------
# Character classes (``regex`` V1 syntax: ``[[A]--[B]]`` is set difference).
# They are kept as pattern fragments so that every compiled pattern below is
# built from the same definitions and cannot drift apart.
# ---------------------------------------------------------------------------

# Scripts written one character per syllable or word: each character is one
# 字. 々 and 〇 belong to the Han script already; the prolonged sound marks
# "ー"/"ｰ" are script Common, so they are named explicitly or they would glue
# onto a neighbouring Latin run.
_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Bopomofo}\u30FC\uFF70"

# Code points that never count on their own. Default_Ignorable_Code_Point is
# the Unicode list of "render as nothing" characters (U+200B-U+200F,
# U+2060-U+206F, U+FEFF, U+00AD, variation selectors, Hangul fillers, tag
# characters ...). Combining marks (\p{M}) belong to the character before
# them. The half-width voiced sound marks ﾞﾟ are spacing letters in Unicode
# but NFKC merges them into the preceding kana, so they count 0 as well.
_ZERO = r"\s\p{Cc}\p{Cf}\p{M}\p{Default_Ignorable_Code_Point}\uFF9E\uFF9F"

# Letters and digits that form "words": a maximal run of them counts 1.
# \p{Nd} and \p{Nl} rather than \p{N}: "①②③" are list markers, one 字 each,
# while super/subscript digits ("m²", "H₂O") are part of the word they follow.
_WORD = (
    r"[[\p{L}\p{Nd}\p{Nl}\u00B2\u00B3\u00B9\u2070-\u2079\u2080-\u2089]"
    r"--[" + _CJK + _ZERO + r"]]"
)

# Invisible characters that sit *inside* a word without splitting it (a soft
# hyphen, a joiner, a combining accent). A zero-width space, on the contrary,
# is a word boundary, so "abc<ZWSP>def" is two words.
_IN_WORD = r"[\p{M}\u00AD\u200C\u200D\u2060\uFEFF]"

# Squeezes text down to one code point per counted unit: runs of _ZERO
# characters become "", a whole word run becomes its first character (group 1;
# it is unset, hence "", when the first branch matched). Han characters,
# punctuation and symbols are left alone, so ``len`` of the result is the
# count. One C-level ``sub`` and no Python per character: faster than deleting
# word tails with a lookbehind, and several times faster than tokenising with
# ``findall`` (which builds one string object per Han character).
_SQUEEZE = regex.compile(
    r"[" + _ZERO + r"]+|(" + _WORD + r")(?:" + _WORD + r"|" + _IN_WORD + r")*",
    regex.V1,
)

# ---------------------------------------------------------------------------
# Emoji
# ---------------------------------------------------------------------------

# A cluster can only be an emoji if one of these code points is present. The
# cheap ``search`` for them lets text without emoji (the usual case) skip all
# grapheme work.
_EMOJI_HINT = regex.compile(
    r"[\p{Extended_Pictographic}\p{Emoji_Modifier}\p{Regional_Indicator}\u20E3]"
)

# Grapheme clusters worth inspecting: those that start like an emoji
# sequence (UTS #51: a pictograph, a modifier, a flag letter, or a keycap
# base "0-9#*" followed by the keycap mark). Anchoring ``\X`` on these starts
# keeps the callback away from ordinary characters.
_EMOJI_CANDIDATE = regex.compile(
    r"(?=[\p{Extended_Pictographic}\p{Emoji_Modifier}\p{Regional_Indicator}]"
    r"|[0-9#*]\uFE0F?\u20E3)\X"
)

# Inside a candidate cluster, any of these makes it an emoji whatever its
# base: emoji presentation selector, keycap, ZWJ, skin tone, flag letter, tag.
_EMOJI_MARKERS = regex.compile(
    r"[\uFE0F\u20E3\u200D\p{Emoji_Modifier}\p{Regional_Indicator}"
    r"\U000E0020-\U000E007F]"
)

# Extended_Pictographic also covers a few characters that are ordinary
# typography in Chinese documents when written without U+FE0F: © ® ™ and the
# punctuation marks ‼ ⁉ 〰 〽. Those keep counting as the symbol or punctuation
# mark they are; with U+FE0F they are emoji like any other.
_TYPOGRAPHIC_PICTOGRAPHS = frozenset("\u00A9\u00AE\u2122\u203C\u2049\u3030\u303D")


def _is_emoji(cluster: str) -> bool:
    """Decide for one grapheme cluster that `_EMOJI_CANDIDATE` matched."""
    if _EMOJI_MARKERS.search(cluster):
        return True
    # U+FE0E asks explicitly for the text (monochrome symbol) presentation.
    if "\uFE0E" in cluster:
        return False
    return cluster[0] not in _TYPOGRAPHIC_PICTOGRAPHS


def _emoji_to(replacement: str):
    """Build a ``sub`` callback that replaces emoji clusters only."""

    def repl(match: regex.Match) -> str:
        cluster = match.group()
        return replacement if _is_emoji(cluster) else cluster

    return repl


# For counting, an emoji becomes a space: it counts 0 but still separates the
# words on either side ("COVID😷19" is two runs, as the reader sees it).
_EMOJI_TO_SPACE = _emoji_to(" ")
_EMOJI_TO_NOTHING = _emoji_to("")

# Invisible characters removed by `strip_invisible`: the default-ignorable set
# (which includes all format characters that matter) and control characters
# other than whitespace. Ordinary spaces, tabs and line breaks stay.
_INVISIBLE = regex.compile(
    r"[\p{Default_Ignorable_Code_Point}[\p{Cc}--\s]\u180E]+", regex.V1
)


# ---------------------------------------------------------------------------
# Counting
# ---------------------------------------------------------------------------


def count_chars(text: str) -> int:
    """Return the 字数 of ``text`` as a Chinese word processor counts it.

    See the module docstring for the rule. Unlike a literal NFKC pass, this
    counts "…" (one ellipsis character) as 1 and "℃" as 1: NFKC would expand
    them to "..." (3) and "°C" (2). Full-width letters and digits need no
    folding because they already are letters and digits ("ＣＯＶＩＤ－１９" is 3
    like "COVID-19").
    """
    if not text:
        return 0
    # NFC only composes (e + U+0301 -> é, conjoining Hangul jamo -> syllable);
    # it never splits one visible character into several, unlike NFKC. The
    # check is a quick C scan, so already-composed text costs almost nothing.
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if _EMOJI_HINT.search(text):
        text = _EMOJI_CANDIDATE.sub(_EMOJI_TO_SPACE, text)
    return len(_SQUEEZE.sub(r"\1", text))


def describe_count_rule() -> str:
    """One Chinese sentence stating the counting rule, for error messages."""
    return (
        "字数按文字处理软件的方法统计：每个汉字、每个标点符号计1字，"
        "连续的英文字母或数字计1字，空格、换行、表情符号和不可见字符不计。"
    )


# ---------------------------------------------------------------------------
# Cleaning
# ---------------------------------------------------------------------------


def strip_invisible(text: str) -> str:
    """Remove emoji clusters and invisible characters; keep whitespace.

    Text-style symbols that Unicode also lists as pictographs (© ® ™ without
    U+FE0F, or any pictograph followed by U+FE0E) are kept, minus the
    selector.
    An emoji is removed without leaving a space, which suits Chinese text
    ("补短板🫥、" -> "补短板、"); between two Latin words written without
    spaces it would glue them together, so count on the original text.
    """
    if _EMOJI_HINT.search(text):
        text = _EMOJI_CANDIDATE.sub(_EMOJI_TO_NOTHING, text)
    return _INVISIBLE.sub("", text)


# A line break is any of the Unicode line terminators; \r\n is one break.
_LINE_BREAK = r"(?:\r\n|[\n\r\x0B\x0C\x85\u2028\u2029])"
_HSPACE = r"[^\S\n\r\x0B\x0C\x85\u2028\u2029]"

# A run of line breaks together with the spaces around them (trailing spaces,
# blank lines, the next line's indentation). The lookbehind makes the match
# start only at the beginning of a run of spaces, which keeps long runs of
# spaces without a break linear instead of quadratic.
_BREAK_RUN = regex.compile(
    r"(?<!" + _HSPACE + r")" + _HSPACE + r"*+" + _LINE_BREAK + r"\s*+"
)

# A break is joined away when it sits in the middle of a sentence: after a Han
# character, a comma or an opening bracket/quote, and before a Han character
# or a mark that Chinese typography never puts at the start of a line
# (，。、；：！？ and closing brackets/quotes: 避头点 rules).
_JOIN_AFTER = regex.compile(r"[\p{Han}，,、﹐﹑(（\[［【〔〖《〈「『“‘]")
_JOIN_BEFORE = regex.compile(
    r"[\p{Han}，,、。．；;：:！!？?)）\]］】〕〗》〉」』”’…]"
)
# Between two pieces of alphabetic text, a break is a space between words.
_LATIN_LEFT = regex.compile(r"[\p{Latin}\p{Nd},;]")
_LATIN_RIGHT = regex.compile(r"[\p{Latin}\p{Nd}]")


def _rejoin(match: regex.Match) -> str:
    text = match.string
    start, end = match.span()
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    if before and after:
        if _JOIN_AFTER.match(before) and _JOIN_BEFORE.match(after):
            return ""
        if _LATIN_LEFT.match(before) and _LATIN_RIGHT.match(after):
            return " "
    return "\n"


def join_broken_lines(text: str) -> str:
    """Join words broken across lines; collapse the other breaks to one "\\n".

    "以内\\n\\n容主题命名" becomes "以内容主题命名": a break between two Han
    characters is removed, together with blank lines and spaces around it.
    So is a break that can only be mid-sentence: after a comma (，,、) or an
    opening bracket/quote, or before a mark that never starts a line in
    Chinese typography (，。、；：！？ or a closing bracket/quote). A break
    after sentence-ending punctuation (。！？；：” ...) or before anything
    that can start a paragraph is kept as a single "\\n". A break between
    two Latin words becomes one space.

    Known limit: a heading without final punctuation followed by a paragraph
    that starts with a Han character is joined to it ("一、活动意义\\n党的…").
    For comparison and analysis this is harmless; the original is untouched.
    """
    return _BREAK_RUN.sub(_rejoin, text)


# ---------------------------------------------------------------------------
# Single-line text (titles, names)
# ---------------------------------------------------------------------------

# What ends a line for someone: every character Python's str.splitlines and
# e-mail headers treat as a line break. In a title they break mail subjects,
# spreadsheet cells and log lines.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# Invisible characters whose only effect is to reorder what is shown around
# them (Trojan Source): a title could display as something other than it is.
_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_NOT_SINGLE_LINE = regex.compile(
    "[\x00-\x1f\x7f-\x9f" + _LINE_BREAKS + _BIDI_CONTROLS + "]"
)
_CHAR_NAMES = {
    "\n": "换行符", "\r": "回车符", "\t": "制表符（Tab）", "\x0b": "垂直制表符（Word 的手动换行）",
    "\x0c": "换页符", "\x1c": "文件分隔符", "\x1d": "组分隔符", "\x1e": "记录分隔符",
    "\x85": "下一行符（NEL）", "\u2028": "行分隔符", "\u2029": "段落分隔符", "\x00": "空字符（NUL）",
}


@dataclass(frozen=True)
class LineProblem:
    """Why a text cannot be a single-line value, in the shape every error of the platform has."""

    code: str  # "multiline" (a line break) or "control_character" (any other control, a bidi override)
    position: int  # 1-based, as a person counts
    char: str
    message: str  # Chinese: what was expected, what was found, what to do

    @property
    def found(self) -> str:
        return f"U+{ord(self.char):04X}"

    expected = "单行文本（不含换行符、控制字符和文字方向控制符）"


def single_line_problem(text: str, label: str) -> LineProblem | None:
    """The first character that has no place in a single-line value (a title, a name), or None.

    The rule of the whole platform for single-line fields: no C0 or C1 control
    character (tab and every line break included: \\n, \\r, U+0085, U+2028,
    U+2029, \\x0b, \\x0c, \\x1c–\\x1e) and no bidirectional control
    (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C). Such values are
    refused, never silently changed, so what is stored is what was sent.
    Multi-line text keeps its line breaks and is not checked here.
    `label` names the field in the message (「作品名称」, 「第3行「名称」」).
    """
    match = _NOT_SINGLE_LINE.search(text)
    if match is None:
        return None
    char, position = match.group(), match.start() + 1
    if char in _LINE_BREAKS:
        code, name = "multiline", _CHAR_NAMES[char]
    elif char in _BIDI_CONTROLS:
        code, name = "control_character", "文字方向控制符"
    else:
        code, name = "control_character", _CHAR_NAMES.get(char, "控制字符")
    message = (f"{label}应为单行文本，第{position}个字符是{name}（U+{ord(char):04X}），不能出现在{label}中。"
               "请删除该字符后重试（它看不见，常随从网页、Word 或微信复制的文字一起粘贴进来）。")
    return LineProblem(code, position, char, message)


# ---------------------------------------------------------------------------
# Traditional -> Simplified
# ---------------------------------------------------------------------------

# Building an OpenCC converter loads its dictionaries (milliseconds), so it is
# done once per process, on first use, under a lock so that two threads that
# start together do not both build it. OpenCC's Converter is immutable after
# construction and safe to share between threads (BYVoid/OpenCC#231).
_converter = None
_converter_lock = threading.Lock()

_SURROGATE = regex.compile(r"[\uD800-\uDFFF]")


def _get_converter():
    global _converter
    converter = _converter
    if converter is None:
        with _converter_lock:
            if _converter is None:
                import opencc  # imported lazily: only conversion needs it

                # "t2s" is OpenCC's standard Traditional -> Simplified table;
                # it also maps the Taiwan and Hong Kong variant forms (裡, 爲,
                # 綫 ...) that occur in pasted text.
                _converter = opencc.OpenCC("t2s")
            converter = _converter
    return converter


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese to Simplified (OpenCC "t2s")."""
    if not text:
        return text
    try:
        return _get_converter().convert(text)
    except UnicodeEncodeError:
        # A lone surrogate (from a badly decoded upload) cannot be handed to
        # the C++ library as UTF-8; show it as the replacement character.
        return _get_converter().convert(_SURROGATE.sub("\uFFFD", text))


# ---------------------------------------------------------------------------
# Canonical forms
# ---------------------------------------------------------------------------

_SPACE_RUN = regex.compile(r"[^\S\n]+")


def normalise(text: str) -> str:
    """Canonical form for analysis and comparison; never for display.

    NFKC (full-width letters, digits and punctuation to their ordinary form,
    compatibility ideographs to unified ones), emoji and invisible characters
    removed, broken lines joined, Traditional converted to Simplified, runs of
    spaces collapsed to one and the ends trimmed. Returns a new string.
    """
    text = unicodedata.normalize("NFKC", text)
    text = strip_invisible(text)
    text = join_broken_lines(text)
    text = to_simplified(text)
    return _SPACE_RUN.sub(" ", text).strip()


# Punctuation variants that differ only in width, shape or direction. NFKC has
# already turned full-width （）［］＂ into ASCII; what remains are the
# CJK-specific brackets and quotes, and the many "middle dot" look-alikes.
_NAME_FOLD = str.maketrans(
    {
        **dict.fromkeys("【〔〖［｛{[", "("),
        **dict.fromkeys("】〕〗］｝}]", ")"),
        **dict.fromkeys("「」『』“”‘’〝〞〟„‟＂", '"'),
        **dict.fromkeys("•・･‧∙⋅·", "·"),
    }
)
_ANY_SPACE = regex.compile(r"\s+")


def normalise_name(text: str) -> str:
    """Canonical form of an organisation name (or of a title's beginning).

    `normalise`, then no whitespace at all, bracket/quote/middle-dot variants
    folded to one form and Latin letters case-folded, so that
    "计算机学院 党委" == "計算機學院黨委" and "机械工程学院（党委）" ==
    "机械工程学院(党委)".
    """
    text = _ANY_SPACE.sub("", normalise(text))
    return text.translate(_NAME_FOLD).casefold()


def starts_with_org_name(title: str, org_names: Iterable[str]) -> bool:
    """True when ``title`` begins with one of the organisation's names.

    Naming rule 「党组织名称+作品名称」: an organisation may be known by a
    full and a short name, either is accepted. Names that normalise to the
    empty string are ignored, otherwise they would match every title.
    """
    canonical_title = normalise_name(title)
    for name in org_names:
        canonical_name = normalise_name(name)
        if canonical_name and canonical_title.startswith(canonical_name):
            return True
    return False


# ---------------------------------------------------------------------------
# A work's prose
# ---------------------------------------------------------------------------

# The free-text fields of the shipped 2020 definitions (故事正文, 情况简述 / 内容简介, 内容提要): what a work's prose
# is when its track is not known to the reader.
PROSE_FIELDS = ("text", "summary", "outline")


def prose_keys(specs: Iterable[dict] | None) -> tuple[str, ...]:
    """Every `text` field of a track (its fields as campaign_published carries them: key and type), in its order;
    PROSE_FIELDS when the track is unknown. A campaign's own 先进事迹 or 工作总结 is prose like a 故事正文."""
    if specs is None:
        return PROSE_FIELDS
    return tuple(s["key"] for s in specs if s.get("type") == "text" and s.get("key") != "title")


def work_prose(fields: dict, text_keys: Iterable[str] = PROSE_FIELDS) -> str:
    """The prose of a work as the submitter wrote it: its title and its free-text fields (`text_keys`), one per line."""
    parts = [str(fields.get(k) or "") for k in ("title", *text_keys)]
    return "\n".join(p for p in parts if p.strip())
