"""Why `cl2cm.langid.CONFIDENT` is 0.8: how py3langid's probability separates right from wrong detections.

For each language's Multi30K captions, cut to their first 2, 3, 4 words or whole, the share detected as
*another* language with probability ≥ t (a false warning for a model that knows the caption's language) and
the share detected as *their own* language with probability ≥ t (a warning that fires for a model that does
not). Prints one table; needs py3langid and ../shared/data (or --data).

    python benchmarks/langid_threshold.py --data /work/shared/data/multi30k --n 1000
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cl2cm import langid

THRESHOLDS = (0.5, 0.7, 0.8, 0.9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/multi30k")
    ap.add_argument("--split", default="test_2016_flickr")
    ap.add_argument("--langs", default="de,fr,en,cs")
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    head = " ".join(f"{'wrong≥' + str(t):>10} {'own≥' + str(t):>9}" for t in THRESHOLDS)
    print(f"{'lang':4} {'words':>5} {head}")
    for lang in args.langs.split(","):
        lines = (args.data / f"{args.split}.{lang}").read_text(encoding="utf-8").splitlines()[: args.n]
        for words in (2, 3, 4, None):
            found = [langid.detect(" ".join(x.split()[:words]) if words else x) for x in lines]
            if any(f is None for f in found):
                raise SystemExit("py3langid is not installed")
            cells = []
            for t in THRESHOLDS:
                wrong = sum(c != lang and p >= t for c, p in found) / len(found)  # type: ignore[misc]
                own = sum(c == lang and p >= t for c, p in found) / len(found)  # type: ignore[misc]
                cells.append(f"{wrong:>10.1%} {own:>9.1%}")
            print(f"{lang:4} {words or 'all':>5} {' '.join(cells)}")


if __name__ == "__main__":
    main()
