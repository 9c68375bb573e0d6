"""The hosted submission page counts 字数 as the server does: static/wordcount.js (run by node, the V8 of the
browser) against common.text.count_chars on the same strings, the tricky ones by hand and thousands drawn at random
from the characters the rule treats differently. A branch secretary whose page says 300 字 must not be refused for
301."""
from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from common.text import count_chars

SCRIPT = Path(__file__).resolve().parents[2] / "services" / "intake" / "static" / "wordcount.js"
BY_HAND = [
    "", "abc123", "COVID-19", "党员突击队连夜驰援社区，守护师生平安。", "9️⃣个", "👨‍👩‍👧家庭", "©2020", "©️2020", "m²", "H₂O",
    "ＣＯＶＩＤ－１９", "x🏻y", "a\u200bb", "soft\u00adhyphen", "e\u0301té", "…", "℃", "①②③", "ｶﾞｷﾞ", "ー", "カタカナー",
    "한국어 텍스트", "🇨🇳中国", "#️⃣", "‼", "‼️", "\ufeff开头", "第一行\r\n第二行\u2028第三行", "Ⅻ章", "ab\u200dcd", "🏻",
    "Tab\there", "全角　空格", "A.B.C", "1,000,000", "2020年7月31日", "“引号”‘单’《书名》", "\u0000控制\u0007",
]
# the kinds of character the rule tells apart: Han, kana, Hangul, Latin and digits, full-width forms, punctuation,
# symbols, spaces, invisible and combining marks, emoji with their modifiers, keycaps and flags
ALPHABET = list("党建引领ひらカナー한글abcXYZ019ＡＢ１２,.;-_/()，。、；：！？“”《》—…·×℃￥№%★①²₂ \t\n\u3000\u00a0") + [
    "\u200b", "\u200c", "\u200d", "\u00ad", "\ufeff", "\u0301", "\ufe0f", "\ufe0e", "\u20e3", "😷", "👍", "\U0001f3fb",
    "\U0001f1e8", "\U0001f1f3", "©", "™", "〽", "#", "*", "ｶ", "ﾞ"]


def _count_in_node(texts: list[str]) -> list[int]:
    program = ("global.window = global; require(process.argv[1]);"
               "const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
               "process.stdout.write(JSON.stringify(texts.map(countChars)));")
    done = subprocess.run(["node", "-e", program, str(SCRIPT)], input=json.dumps(texts), capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is installed by deploy/bootstrap.sh --test")
def test_the_page_counts_as_the_server_counts():
    rng = random.Random(20200731)
    drawn = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 40))) for _ in range(4000)]
    texts = BY_HAND + drawn
    differ = [(t, py, js) for t, py, js in zip(texts, map(count_chars, texts), _count_in_node(texts)) if py != js]
    assert not differ, f"{len(differ)} of {len(texts)} differ (text, server, page): {differ[:10]}"
