#!/usr/bin/env python3
"""Writes assets/names.json: the names people know the 64 hexagrams by besides pinyin, Legge's
and the data's gloss -- the Wilhelm/Baynes English title and its Wade-Giles romanisation.

Usage, from the repository root (Python 3 standard library only, no network):

    python3 scripts/convert-names.py PATH/TO/ts-hexagram-generator/src/models/hexagram-name.ts

The file is `src/models/hexagram-name.ts` of GitHub limjiechao/ts-hexagram-generator (commit
83a3b9adc7a4f5c99c07c39b296dabc42fb997e5; the file last changed in 9e9bb90). Its field
`English.WilhelmBaynes` reads "Wade-Giles / English title" ("Ch’ien / The Creative"). The script
refuses a file with another sha256, checks each entry's Chinese names against
assets/hexagrams.json (traditional) and assets/chinese.json (simplified), and corrects only the
slips in CORRECTIONS. See assets/PROVENANCE.md.
"""

import hashlib
import json
import re
import sys
from pathlib import Path

SHA256 = "b84e68b40440a8478ad89e780732e012b2f37386b986eddd74e5afab0cc34699"
# (number, before, after): slips of the source, each required to occur exactly once.
CORRECTIONS = [(14, "Posession in Great Measure", "Possession in Great Measure")]


def main(path):
    raw = Path(path).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        sys.exit(f"{path}: sha256 {digest}, expected {SHA256}")
    text = raw.decode("utf-8")
    entry = re.compile(
        r"(\d+): \{\s*Chinese: \{\s*Traditional: '([^']+)',\s*Simplified: '([^']+)',\s*\},"
        r"\s*English: \{\s*WilhelmBaynes: '([^']+)',\s*Legge: '[^']+',\s*\},\s*\}"
    )
    found = entry.findall(text)
    if [int(n) for n, *_ in found] != list(range(1, 65)):
        sys.exit(f"expected hexagrams 1 to 64 in order, found {[n for n, *_ in found]}")
    legge = json.loads(Path("assets/hexagrams.json").read_text("utf-8"))["hexagrams"]
    zh = json.loads(Path("assets/chinese.json").read_text("utf-8"))["hexagrams"]
    out = []
    for (n, trad, simp, wb), h, z in zip(found, legge, zh):
        n = int(n)
        if trad != h["name_chinese"]:
            sys.exit(f"#{n}: traditional {trad} but assets/hexagrams.json has {h['name_chinese']}")
        if simp != z["name"]:
            sys.exit(f"#{n}: simplified {simp} but assets/chinese.json has {z['name']}")
        wade_giles, sep, english = wb.partition(" / ")
        if not sep or " / " in english:
            sys.exit(f"#{n}: {wb!r} is not 'Wade-Giles / English'")
        for num, before, after in CORRECTIONS:
            if num == n:
                if english.count(before) != 1:
                    sys.exit(f"#{n}: correction {before!r} does not occur exactly once")
                english = english.replace(before, after)
        out.append({"number": n, "wilhelm": english, "wade_giles": wade_giles})
    doc = {
        "source": {
            "obtained_from": "limjiechao/ts-hexagram-generator @ 83a3b9adc7a4f5c99c07c39b296dabc42fb997e5 : src/models/hexagram-name.ts (English.WilhelmBaynes, 'Wade-Giles / English')",
            "sha256": SHA256,
            "wilhelm": "the titles of Richard Wilhelm's I Ging (1924) as Cary F. Baynes translated them (The I Ching or Book of Changes, 1950): short titles, not text",
            "wade_giles": "the romanisation of the same titles (Wilhelm/Baynes, Wade-Giles with its aspirate marks)",
            "corrections": [f"#{n}: {b} -> {a}" for n, b, a in CORRECTIONS],
            "see": "assets/PROVENANCE.md",
        },
        "hexagrams": out,
    }
    Path("assets/names.json").write_text(
        json.dumps(doc, ensure_ascii=False, indent=1) + "\n", "utf-8"
    )
    print(f"wrote assets/names.json: {len(out)} hexagrams")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
