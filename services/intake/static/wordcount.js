// 字数 as the platform counts it: a port of common/text.py's count_chars (read its docstring for the rule), so the
// count a branch secretary sees while typing is the count the server checks. tests/browser/test_hosted_submission.py
// compares the two on the same strings.
(function (root) {
  "use strict";
  var CJK = "\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}\\p{Script=Bopomofo}\\u30FC\\uFF70";
  var ZERO = "\\s\\p{Cc}\\p{Cf}\\p{M}\\p{Default_Ignorable_Code_Point}\\uFF9E\\uFF9F";
  // a letter or digit of an alphabetic script: [[…]--[CJK ZERO]] in Python's regex, a lookahead here (no `v` flag
  // needed, so older phones count too)
  var WORD = "(?:(?![" + CJK + ZERO + "])[\\p{L}\\p{Nd}\\p{Nl}\\u00B2\\u00B3\\u00B9\\u2070-\\u2079\\u2080-\\u2089])";
  var IN_WORD = "[\\p{M}\\u00AD\\u200C\\u200D\\u2060\\uFEFF]";
  var SQUEEZE = new RegExp("[" + ZERO + "]+|(" + WORD + ")(?:" + WORD + "|" + IN_WORD + ")*", "gu");
  var EMOJI_HINT = /[\p{Extended_Pictographic}\p{Emoji_Modifier}\p{Regional_Indicator}\u20E3]/u;
  var CANDIDATE = /[\p{Extended_Pictographic}\p{Emoji_Modifier}\p{Regional_Indicator}]|[0-9#*]\uFE0F?\u20E3/uy;
  var MARKERS = /[\uFE0F\u20E3\u200D\p{Emoji_Modifier}\p{Regional_Indicator}\u{E0020}-\u{E007F}]/u;
  var TYPOGRAPHIC = "\u00A9\u00AE\u2122\u203C\u2049\u3030\u303D";
  var graphemes = typeof Intl !== "undefined" && Intl.Segmenter ? new Intl.Segmenter("zh", {granularity: "grapheme"}) : null;

  function isEmoji(cluster) {
    if (MARKERS.test(cluster)) { return true; }
    if (cluster.indexOf("\uFE0E") >= 0) { return false; }
    return TYPOGRAPHIC.indexOf(String.fromCodePoint(cluster.codePointAt(0))) < 0;
  }

  function firstCluster(text, at) {
    if (!graphemes) { return String.fromCodePoint(text.codePointAt(at)); }
    var it = graphemes.segment(text.slice(at, at + 64))[Symbol.iterator]().next();
    return it.value.segment;
  }

  // Python's `regex.sub` with (?=candidate)\X: scan code point by code point; where a candidate starts, take the
  // grapheme cluster from there and turn it into a space when it is an emoji.
  function emojiToSpace(text) {
    var out = "", i = 0;
    while (i < text.length) {
      CANDIDATE.lastIndex = i;
      if (CANDIDATE.test(text)) {
        var cluster = firstCluster(text, i);
        out += isEmoji(cluster) ? " " : cluster;
        i += cluster.length;
      } else {
        var ch = String.fromCodePoint(text.codePointAt(i));
        out += ch;
        i += ch.length;
      }
    }
    return out;
  }

  function countChars(text) {
    if (!text) { return 0; }
    text = text.normalize("NFC");
    if (EMOJI_HINT.test(text)) { text = emojiToSpace(text); }
    var squeezed = text.replace(SQUEEZE, function (_, word) { return word || ""; });
    return Array.from(squeezed).length;
  }

  root.countChars = countChars;
})(window);
