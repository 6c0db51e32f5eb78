#!/usr/bin/env python3
"""Convert ../shared/data/iching-legge.json into assets/hexagrams.json.

The app embeds assets/hexagrams.json at compile time and never reads ../shared at run time.
Run from the repository root: python3 scripts/convert_legge.py [SOURCE]
The conversion keeps every Legge text field verbatim, keeps the source block (provenance),
drops nothing the app uses, and checks the invariants the app relies on.

The only changes to the text are the CORRECTIONS below: slips of the digitisation (typography,
not wording), each listed with its hexagram, field, before and after in assets/PROVENANCE.md and
found by the unit test `oracle::tests::the_legge_text_has_no_digitisation_artifacts`. Each
`before` must occur exactly once in its field, so a changed source stops the conversion instead
of being silently "corrected".
"""
import json
import sys

# (hexagram, field, before, after). A field is "judgment", "image", "all_lines" or
# "line N" (1 = bottom).
CORRECTIONS = [
    # A full stop inside a sentence, before a lower-case word.
    (24, "image", "on the day. of the (winter) solstice", "on the day of the (winter) solstice"),
    (33, "image", "but by his own. dignified gravity", "but by his own dignified gravity"),
    (48, "image", "comforts the people, and. stimulates", "comforts the people, and stimulates"),
    # The full stop lost after the hexagram's name, running two sentences together.
    (9, "image", "form Hsiâo Khû The superior man", "form Hsiâo Khû. The superior man"),
    (14, "image", "form Tâ Yû The superior man", "form Tâ Yû. The superior man"),
    # Unbalanced parentheses.
    (12, "image", "restrains (the manifestation) of) his virtue",
     "restrains (the manifestation of) his virtue"),
    (13, "image", "in accordance with this), distinguishes", "in accordance with this, distinguishes"),
    # The comma of the formula every other image and line has.
    (17, "image", "The superior man in accordance with this,", "The superior man, in accordance with this,"),
    (2, "line 6", "The sixth SIX, divided (shows)", "The sixth SIX, divided, (shows)"),
    # Legge prints the line numbers in small capitals (SIX, NINE) everywhere else.
    (11, "line 6", "The sixth six, divided,", "The sixth SIX, divided,"),
    (46, "line 5", "The fifth six, divided,", "The fifth SIX, divided,"),
    (46, "line 6", "The sixth six, divided,", "The sixth SIX, divided,"),
    (2, "all_lines", "the use of the number six.", "the use of the number SIX."),
    # A capital inside a sentence.
    (50, "line 4", "Its Subject will be made", "Its subject will be made"),
    # An OCR slip ("he" for "be") that the source repaired with parentheses, as if Legge had
    # supplied the word.
    (17, "line 1", "there will (be) good fortune", "there will be good fortune"),
    # The dash: the transcription has an em dash where the source wrote "--".
    (6, "line 5", "contending;--and", "contending;—and"),
    (11, "image", "them,--in order", "them,—in order"),
    (16, "line 3", "understand!--If", "understand!—If"),
    (20, "judgment", "offerings;--with", "offerings;—with"),
    (20, "line 1", "lad;--not", "lad;—not"),
    (21, "line 4", "firm,--in", "firm,—in"),
    (33, "line 3", "bound,--to", "bound,—to"),
    (34, "line 1", "evil,--most", "evil,—most"),
    (36, "image", "men;--he", "men;—he"),
    (38, "line 1", "them;--they", "them;—they"),
    (52, "judgment", "it,--there", "it,—there"),
    (62, "judgment", "wing;--to", "wing;—to"),
    # One hyphen: U+2010 where every other compound has "-".
    (34, "line 4", "wheel\u2010spokes", "wheel-spokes"),
    (34, "line 5", "ram(\u2010like", "ram(-like"),
    (38, "line 2", "bye\u2010passage", "bye-passage"),
]


def correct(h):
    """Applies the CORRECTIONS of hexagram `h` (a dict from the source) in place."""
    for n, field, before, after in CORRECTIONS:
        if n != h["number"]:
            continue
        if field.startswith("line "):
            texts, i = h["line_texts"], int(field[5:]) - 1
        else:
            texts, i = h, field
        count = texts[i].count(before)
        assert count == 1, f"#{n} {field}: {before!r} found {count} times"
        texts[i] = texts[i].replace(before, after)


src = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/iching-legge.json"
data = json.load(open(src, encoding="utf-8"))

trigrams = []
for t in data["trigrams"]:
    assert len(t["lines"]) == 3 and set(t["lines"]) <= {"0", "1"}, t
    trigrams.append({k: t[k] for k in (
        "name_pinyin", "name_chinese", "name_legge", "symbol", "english",
        "image", "attribute", "family", "lines")})
assert len(trigrams) == 8

hexagrams = []
for n, h in enumerate(data["hexagrams"], start=1):
    assert h["number"] == n, h["number"]
    correct(h)
    assert h["symbol"] == chr(0x4DC0 + n - 1)
    assert len(h["line_texts"]) == 6 and all(x.strip() for x in h["line_texts"])
    assert h["judgment"].strip() and h["image"].strip()
    assert (h["all_lines"] is not None) == (n in (1, 2))
    hexagrams.append({k: h[k] for k in (
        "number", "name_pinyin", "name_chinese", "name_english", "name_legge", "symbol",
        "lines", "lower_trigram", "upper_trigram", "judgment", "image", "line_texts",
        "all_lines")})
assert len({h["lines"] for h in hexagrams}) == 64

source = dict(data["source"])
source["corrections"] = (
    f"{len(CORRECTIONS)} slips of the digitisation corrected after the notes above were written "
    "(typography only: stray full stops and parentheses, lost full stops and commas, the case of "
    "SIX, one OCR slip, and one dash and one hyphen throughout); each is listed in "
    "assets/PROVENANCE.md and in CORRECTIONS in scripts/convert_legge.py")
out = {"source": source, "trigrams": trigrams, "hexagrams": hexagrams}
with open("assets/hexagrams.json", "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(f"wrote assets/hexagrams.json: {len(hexagrams)} hexagrams, {len(trigrams)} trigrams")
