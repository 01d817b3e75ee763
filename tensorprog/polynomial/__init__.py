"""Polynomial limits: the Z-calculus (tensorprog.zrules) with every Z a polynomial in Gaussian
atoms and every expectation an exact Gaussian moment -- exact rationals, or float64 coefficients.

* scalars.py     -- the scalars' limits in the backend's domain (and widening QQ → RR → EX);
* atoms.py       -- atoms and their Gaussian families (ZInit, ZHat);
* convert.py     -- program expressions as polynomials (ZNonlin);
* expectation.py -- exact Gaussian expectations (ZMoment, E[Z^x Z^y]);
* symbolic.py    -- Z unwound into atom symbols (reports, the derivative route of ZDot);
* domain.py      -- :class:`PolynomialDomain`, the domain the rules run in;
* limit.py       -- :class:`Limit`, the result.

Usually reached through ``tensorprog.derive_limit(program, mode="exact" | "float")``.
"""

from .atoms import AtomInfo, FamilyInfo
from .domain import PolynomialDomain
from .limit import Limit
from .scalars import Widen

__all__ = ["AtomInfo", "FamilyInfo", "Limit", "PolynomialDomain", "Widen"]
