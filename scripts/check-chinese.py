#!/usr/bin/env python3
"""Collate assets/chinese.json against a second, independent transcription of the Zhouyi.

The second source is the Kanseki Repository's 周易 (KR1a0001, base edition "tls", the text of the
Thesaurus Linguae Sericae), in traditional characters, one file per hexagram. It is read from a
local copy, never from the network:

    python3 scripts/check-chinese.py PATH/TO/KR1a0001      # a checkout of the repository

Both texts are brought to one form before they are compared: the second source's traditional
characters are mapped to simplified ones with the per-character table TRAD_TO_SIMP below (the
correspondences MediaWiki's zh-hans converter makes, which is how Wikisource's zh-hans pages, and
so our source, were produced), the same table is applied to ours (it has no traditional characters,
so this changes nothing), and the pairs in VARIANTS (异体字: one word written two ways, such as 无/無
or 床/牀) are counted as the same character. Punctuation and whitespace are then set aside and the
characters are aligned with difflib.

It prints, per hexagram and field (judgment, each line statement, 用九/用六, Tuan, Great Image, each
Small Image, Wenyan; the Xugua and Zagua phrases at the end):

  - WORD: a character that differs, is missing or is extra (after the mapping above);
  - VARIANT: a VARIANTS pair, the same word written another way (counted per field, not listed
    one by one unless --variants is given);
  - STOP: punctuation that changes how the sentence divides: a full stop or semicolon (。；？！) on
    one side where the other side has no mark at all between the same two characters, such as a
    full stop splitting 不利有攸往;
  - punctuation that only differs in kind (，、： against 。； or against nothing) is counted, not
    listed.

The exit status is 0; this is a report to read, not a gate. Python 3 standard library only.
"""
import difflib
import json
import os
import re
import sys

OURS = "assets/chinese.json"

# Traditional -> simplified, one character to one, for the characters of the second source whose
# simplified form differs (made once with MediaWiki's zh-hans character table and read through; 乾
# stays 乾: the table's 乾 -> 干 is for the sense "dry", not the hexagram).
TRAD_TO_SIMP = dict(
    zip(
        "並亂來係偽備傷傾僕儀億儉兌內兩冑則剛剝勑動務勝勞勢勸厤厭厲參叢問啞喪嗇嘗嚮嚴國圍園"
        "圓圖執堅堯報塗壯奪奮婦學宮實寧寬寵寶將專對屢屨屬帥師帶幹幾廟廢廣廬弒張強彌彙後徑從"
        "復恆恥悶惡惻愛慍慚慮慶憂憊應懲懷懼戔戰戶掛揚揮損撝擊據擬攣敗敵數斷於時晉晝暉暢書會"
        "東棄棟楊業極榮構樂樞樹橈機權歲歸殺毀氣決沒況淵渙測湯準溝滅滿漁漣漸潛潤澤濕濟瀆災為"
        "無煇營爛爾牽犧狀猶獄獨獲獸瑣甕畢畫異當疇發盜盡盪眾矯碩確祿禦禮稱穀積穫窮竄節範篤簡"
        "紂約納純紛紱終結絕絪統經綜維綸緩縕縣繩繫繻繼纆續罰罷義習聖聞聰聲聽脩膚臨與興舉舊艱"
        "茲莧華萬葦蒼蓋薦藥蘇蘭處虛號虧蟄蠱術衛補見視覩親覿觀觸訟設試詳誅語誠誡誣誥誨說誰諂"
        "諸謀謂謙講謹識議譽變豐豶貝貞負財貢貨貫貳貴賁資賓賞賢賤質賾贊踰躋躍車載輔輕輪輮輻輿"
        "辭辯農連進遊運過違遠適遯遲遷遺邇鄰醜鉉鉤錫錯長門閉開閏閑間閽闃闔闕闚關闡闢陰陳陸陽"
        "階隕際隤隨險隱雖雜雞離難雲電靈靜鞏響頂順須頤頰頻顏顒願顙顛類顯風飛飪飭飲飽飾養餗餘"
        "饋馬馮馴駁驅驕驚體髮魚鮒鮮鱉鳥鳴鴻鶴鹵麗黃齊齎龍龜",
        "并乱来系伪备伤倾仆仪亿俭兑内两胄则刚剥𠡠动务胜劳势劝历厌厉参丛问哑丧啬尝向严国围园"
        "圆图执坚尧报涂壮夺奋妇学宫实宁宽宠宝将专对屡屦属帅师带干几庙废广庐弑张强弥汇后径从"
        "复恒耻闷恶恻爱愠惭虑庆忧惫应惩怀惧戋战户挂扬挥损㧑击据拟挛败敌数断于时晋昼晖畅书会"
        "东弃栋杨业极荣构乐枢树桡机权岁归杀毁气决没况渊涣测汤准沟灭满渔涟渐潜润泽湿济渎灾为"
        "无𪸩营烂尔牵牺状犹狱独获兽琐瓮毕画异当畴发盗尽荡众矫硕确禄御礼称谷积获穷窜节范笃简"
        "纣约纳纯纷绂终结绝𬘡统经综维纶缓缊县绳系𦈡继𬙊续罚罢义习圣闻聪声听修肤临与兴举旧艰"
        "兹苋华万苇苍盖荐药苏兰处虚号亏蛰蛊术卫补见视睹亲觌观触讼设试详诛语诚诫诬诰诲说谁谄"
        "诸谋谓谦讲谨识议誉变丰豮贝贞负财贡货贯贰贵贲资宾赏贤贱质赜赞逾跻跃车载辅轻轮𫐓辐舆"
        "辞辩农连进游运过违远适遁迟迁遗迩邻丑铉钩锡错长门闭开闰闲间阍阒阖阙窥关阐辟阴陈陆阳"
        "阶陨际𬯎随险隐虽杂鸡离难云电灵静巩响顶顺须颐颊频颜颙愿颡颠类显风飞饪饬饮饱饰养𫗧余"
        "馈马冯驯驳驱骄惊体发鱼鲋鲜鳖鸟鸣鸿鹤卤丽黄齐赍龙龟",
        strict=True,
    )
)

# 异体字: one word, two written forms, that the editions use interchangeably. The second of each
# pair is folded into the first before the characters are compared (after TRAD_TO_SIMP).
VARIANTS = [
    ("床", "牀"),
    ("群", "羣"),
    ("凶", "兇"),
    ("修", "脩"),
    ("遁", "遯"),
    ("睹", "覩"),
    ("弃", "棄"),
    ("恒", "恆"),
    ("于", "於"),
    ("灾", "災"),
    ("馀", "余"),
    ("辨", "辩"),
    ("啕", "咷"),
    ("佑", "祐"),
    ("晰", "晢"),
]

STOPS = "。；？！"
PAUSES = "，、：·"
MARKS = STOPS + PAUSES + "《》「」『』“”‘’〈〉（）()　 \t\n¶"

LABEL = re.compile(r"^(初[六九]|[六九][二三四五]|上[六九]|用[六九])[：、，]")


def fold(ch, variants):
    ch = TRAD_TO_SIMP.get(ch, ch)
    return variants.get(ch, ch)


def tokens(text, variants):
    """The characters of `text` (folded) and, between each and the next, its punctuation class:
    2 = a stop (。；？！), 1 = a pause (，、：), 0 = none."""
    chars, raw, gaps = [], [], []
    for ch in text:
        if ch in STOPS or ch in PAUSES:
            if chars:
                gaps[-1] = max(gaps[-1], 2 if ch in STOPS else 1)
            continue
        if ch in MARKS:
            continue
        chars.append(fold(ch, variants))
        raw.append(ch)
        gaps.append(0)
    return chars, raw, gaps


def read_kanripo(folder):
    """{number: {field: text}} from KR1a0001_001.txt .. _064.txt, and the Xugua and Zagua texts."""
    out = {}
    for n in range(1, 65):
        with open(os.path.join(folder, f"KR1a0001_{n:03d}.txt"), encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"<pb:[^>]*>", "", text).replace("¶", "")
        kept = [
            line
            for line in text.split("\n")
            if not line.startswith(("#", "**")) and not re.match("[\u4dc0-\u4dff]", line)
        ]
        blocks = [re.sub(r"\s+", "", b) for b in "\n".join(kept).split("\n\n") if b.strip()]
        fields = {}
        last = None
        line_no = 0
        for i, b in enumerate(blocks):
            m = LABEL.match(b)
            if i == 0:
                last = "judgment"
            elif b.startswith("《彖》曰"):
                last = "tuan"
            elif b.startswith("《文言》曰"):
                last = "wenyan"
            elif b.startswith("《象》曰"):
                if line_no == 0:
                    last = "image"
                elif line_no == 7:
                    last = "all_lines_image"
                else:
                    last = f"line_image {line_no}"
                if n == 1:
                    last = "image"  # 乾 has one 象 for the hexagram and its lines: split below
            elif m:
                line_no = 7 if m.group(1).startswith("用") else line_no + 1
                last = "all_lines" if line_no == 7 else f"line {line_no}"
            # The heading 《彖》曰 / 《象》曰 / 《文言》曰, which ours does not have.
            b = re.sub(r"^《(彖|象|文言)》曰[：、，]?", "", b)
            if i == 0:
                # The title that opens the judgment, 《剝》 or 《習坎》: kept apart (see main).
                title = re.match(r"^《([^》]+)》", b)
                check(title, f"{n}: the judgment has no title: {b!r}")
                fields["title"] = title.group(1)
                b = b[title.end() :]
            if last in fields:
                fields[last] += b
            else:
                fields[last] = b
        if n == 1:
            # 《象》曰：天行健...「潛龍勿用」、陽在下也。... 「用九」、天德不可為首也。
            parts = re.split(r"(?<=。)(?=「)", fields["image"])
            check(len(parts) == 8, f"1: the Image splits into {len(parts)} parts, expected 8")
            fields["image"] = parts[0]
            for p in range(1, 7):
                fields[f"line_image {p}"] = parts[p]
            fields["all_lines_image"] = parts[7]
        out[n] = fields
    with open(os.path.join(folder, "KR1a0001_068.txt"), encoding="utf-8") as f:
        xugua = f.read()
    with open(os.path.join(folder, "KR1a0001_069.txt"), encoding="utf-8") as f:
        zagua = f.read()
    strip = lambda t: re.sub(r"<pb:[^>]*>|^[#*].*$", "", t, flags=re.M).replace("¶", "")
    return out, strip(xugua), strip(zagua)


def check(condition, message):
    if not condition:
        sys.exit(f"check-chinese: {message}")


def ours_fields(entry):
    name = entry["name"]
    judgment = entry["judgment"]
    if judgment.startswith(name + "："):
        judgment = judgment[len(name) + 1 :]
    fields = {"judgment": judgment, "tuan": entry["tuan"], "image": entry["image"]}
    for p in range(1, 7):
        fields[f"line {p}"] = entry["line_texts"][p - 1]
        fields[f"line_image {p}"] = entry["line_images"][p - 1]
    if entry["all_lines"]:
        fields["all_lines"] = entry["all_lines"]
        fields["all_lines_image"] = entry["all_lines_image"]
    if entry["wenyan"]:
        fields["wenyan"] = "".join(entry["wenyan"])
    return fields


def show(raw, gaps, lo, hi):
    """raw[lo:hi] with its punctuation class marks (。 for a stop, ， for a pause)."""
    out = ""
    for i in range(max(lo, 0), min(hi, len(raw))):
        out += raw[i] + ("" if gaps[i] == 0 or i == hi - 1 else "，" if gaps[i] == 1 else "。")
    return out


def compare(a_text, b_text, variants, list_variants):
    """The differences between ours (a) and theirs (b): a list of (kind, description) and counts."""
    a, a_raw, a_gaps = tokens(a_text, variants)
    b, b_raw, b_gaps = tokens(b_text, variants)
    found = []
    counts = {"WORD": 0, "VARIANT": 0, "STOP": 0, "pause": 0}
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for k in range(i2 - i1):
                i, j = i1 + k, j1 + k
                if a_raw[i] != b_raw[j] and TRAD_TO_SIMP.get(b_raw[j], b_raw[j]) != a_raw[i]:
                    counts["VARIANT"] += 1
                    if list_variants:
                        found.append(("VARIANT", f"{a_raw[i]} / {b_raw[j]} in {show(a_raw, a_gaps, i - 3, i + 4)}"))
                if i == len(a) - 1 or j == len(b) - 1 or k == i2 - i1 - 1:
                    continue  # the mark after the last character, or at the edge of a difference
                if (a_gaps[i] == 2) != (b_gaps[j] == 2) and 0 in (a_gaps[i], b_gaps[j]):
                    counts["STOP"] += 1
                    ctx_a = show(a_raw, a_gaps, i - 4, i + 6)
                    ctx_b = show(b_raw, b_gaps, j - 4, j + 6)
                    found.append(("STOP", f"ours {ctx_a} | second {ctx_b}"))
                elif a_gaps[i] != b_gaps[j]:
                    counts["pause"] += 1
        else:
            counts["WORD"] += 1
            ctx_a = show(a_raw, a_gaps, i1 - 3, i2 + 3)
            ctx_b = show(b_raw, b_gaps, j1 - 3, j2 + 3)
            found.append(
                ("WORD", f"{op}: ours «{''.join(a_raw[i1:i2])}» second «{''.join(b_raw[j1:j2])}»"
                 f" — ours {ctx_a} | second {ctx_b}")
            )
    return found, counts


def phrase_in(phrase, text, variants):
    """Whether `phrase` occurs in `text` once both are folded and stripped of punctuation."""
    a = "".join(tokens(phrase, variants)[0])
    b = "".join(tokens(text, variants)[0])
    if a in b:
        return None
    best = max(
        (difflib.SequenceMatcher(None, a, b[k : k + len(a)]).ratio(), k) for k in range(len(b) - len(a) + 1)
    )
    return b[best[1] : best[1] + len(a)]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    list_variants = "--variants" in sys.argv
    check(len(args) == 1, "usage: check-chinese.py PATH/TO/KR1a0001 [--variants]")
    theirs, xugua, zagua = read_kanripo(args[0])
    with open(OURS, encoding="utf-8") as f:
        ours = {e["number"]: e for e in json.load(f)["hexagrams"]}
    variants = {b: a for a, b in VARIANTS}
    variants.update({TRAD_TO_SIMP.get(b, b): a for a, b in VARIANTS})
    totals = {"WORD": 0, "VARIANT": 0, "STOP": 0, "pause": 0}
    for n in range(1, 65):
        mine = ours_fields(ours[n])
        other = theirs[n]
        # Ours writes the name before a colon ("剥：不利有攸往。"), then repeats it where it is the
        # judgment's first word ("艮：艮其背"), or writes only the first word ("履虎尾"); the second
        # source puts the name in 《》 first and repeats it or not (《履》履虎尾, 《艮》其背).
        # ours_fields dropped "name："; the title is kept only where ours opens with the name.
        title = other.pop("title")
        folded = lambda t: "".join(tokens(t, variants)[0])
        if folded(mine["judgment"]).startswith(folded(title)) and not other["judgment"].startswith(title):
            other["judgment"] = title + other["judgment"]
        check(sorted(mine) == sorted(other), f"{n}: fields {sorted(mine)} against {sorted(other)}")
        for field in mine:
            found, counts = compare(mine[field], other[field], variants, list_variants)
            for k, v in counts.items():
                totals[k] += v
            for kind, what in found:
                print(f"{n:2} {ours[n]['name']}\t{field}\t{kind}\t{what}")
    for part, text in (("xugua", xugua), ("zagua", zagua)):
        for phrase in dict.fromkeys(ours[n][part] for n in range(1, 65)):
            near = phrase_in(phrase, text, variants)
            if near is not None:
                totals["WORD"] += 1
                print(f"--\t{part}\tWORD\tours «{phrase}» nearest in second «{near}»")
    print(
        f"totals: {totals['WORD']} word differences, {totals['STOP']} sentence-dividing punctuation"
        f" differences, {totals['VARIANT']} variant forms, {totals['pause']} other punctuation differences"
    )


if __name__ == "__main__":
    main()
