"""Named sweep specifications shipped with the package (``tensorprog sweep --preset NAME``).

Each is also in the source tree as ``programs/sweeps/NAME.toml`` (a test keeps them equal).
"""

from __future__ import annotations

from ..errors import TensorProgError

MUTRANSFER = """\
# μTransfer in the limit: training loss after T SGD steps vs log2 η, for μP at widths 2^6..2^12
# (4 seeds each) and the μP limit, and for SP (finite widths only: its limit is unstable).
# Task: 8 patients of scikit-learn's diabetes data, projected on 2 principal components,
# target standardized; SP's optimal η shrinks like 1/n, so its tables scan 2^-20 ... 2^-2;
# one hidden layer (L = 1), batch 1, MSE; train loss = mean ½(f - y)² on
# the 8 training examples after the last step. Run:
#   tensorprog sweep --preset mutransfer --db mutransfer.sqlite
#   tensorprog sweep plot --db mutransfer.sqlite --out mutransfer.png

[[sweep]]
name = "mutransfer"
activation = "tanh(x)"
mode = "numeric"
steps = 16
parametrization = "mup"
width = ["limit", 64, 128, 256, 512, 1024, 2048, 4096]
depth = 1
lr = { log2 = [-14, 4], num = 19 }
data = { source = "diabetes", dims = 2, examples = 8 }
seeds = 4

[[sweep]]
name = "mutransfer"
activation = "tanh(x)"
steps = 16
parametrization = "sp"
width = [64, 128, 256, 512, 1024, 2048, 4096]
depth = 1
lr = { log2 = [-20, -2], num = 19 }
data = { source = "diabetes", dims = 2, examples = 8 }
seeds = 4

[[sweep]]
name = "mutransfer"
activation = "x"
mode = "float"
steps = 16
parametrization = "mup"
width = ["limit", 64, 128, 256, 512, 1024, 2048, 4096]
depth = 1
lr = { log2 = [-14, 4], num = 19 }
data = { source = "diabetes", dims = 2, examples = 8 }
seeds = 4

[[sweep]]
name = "mutransfer"
activation = "x"
steps = 16
parametrization = "sp"
width = [64, 128, 256, 512, 1024, 2048, 4096]
depth = 1
lr = { log2 = [-20, -2], num = 19 }
data = { source = "diabetes", dims = 2, examples = 8 }
seeds = 4

# φ = x²: the polynomial degree doubles every step, so a short horizon (T = 4 on 4 examples).
[[sweep]]
name = "mutransfer"
activation = "x^2"
mode = "float"
steps = 4
parametrization = "mup"
width = ["limit", 64, 128, 256, 512, 1024, 2048, 4096]
depth = 1
lr = { log2 = [-16, 0], num = 17 }
data = { source = "diabetes", dims = 2, examples = 4 }
seeds = 4

[[sweep]]
name = "mutransfer"
activation = "x^2"
steps = 4
parametrization = "sp"
width = [64, 128, 256, 512, 1024, 2048, 4096]
depth = 1
lr = { log2 = [-20, -2], num = 19 }
data = { source = "diabetes", dims = 2, examples = 4 }
seeds = 4
"""

PRESETS = {"mutransfer": MUTRANSFER}


def preset_text(name: str) -> str:
    """The TOML text of the preset ``name``."""
    if name not in PRESETS:
        raise TensorProgError(f"unknown sweep preset '{name}'",
                              hint=f"one of: {', '.join(PRESETS)}")
    return PRESETS[name]
