"""Reproduce TP4 Figure 4 with the default settings (same as `tensorprog figure4`).

    python benchmarks/figure4.py [OUT_DIR] [extra figure4 options...]

Writes figure4.png, figure4_linear.png, figure4_quadratic.png and figure4.json to OUT_DIR
(default: figure4_out) and prints the measured agreement per panel and width.
"""

from __future__ import annotations

import sys

from tensorprog.cli import main

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "figure4_out"
    sys.exit(main(["figure4", "--out", out, *sys.argv[2:]]))
