#!/usr/bin/env python3
"""Convert ../shared/data/iching-legge.json into assets/hexagrams.json.

The app embeds assets/hexagrams.json at compile time and never reads ../shared at run time.
Run from the repository root: python3 scripts/convert_legge.py [SOURCE]
The conversion keeps every Legge text field verbatim, keeps the source block (provenance),
drops nothing the app uses, and checks the invariants the app relies on.
"""
import json
import sys

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
    assert h["symbol"] == chr(0x4DC0 + n - 1)
    assert len(h["line_texts"]) == 6 and all(x.strip() for x in h["line_texts"])
    assert h["judgment"].strip() and h["image"].strip()
    assert (h["all_lines"] is not None) == (n in (1, 2))
    hexagrams.append({k: h[k] for k in (
        "number", "name_pinyin", "name_chinese", "name_english", "name_legge", "symbol",
        "lines", "lower_trigram", "upper_trigram", "judgment", "image", "line_texts",
        "all_lines")})
assert len({h["lines"] for h in hexagrams}) == 64

out = {"source": data["source"], "trigrams": trigrams, "hexagrams": hexagrams}
with open("assets/hexagrams.json", "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(f"wrote assets/hexagrams.json: {len(hexagrams)} hexagrams, {len(trigrams)} trigrams")
