"""Limit: the result of an exact or float-polynomial derivation."""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..backends.plan import DegreePlan
from ..budget import Meter
from ..errors import ProgramError
from ..ir import Program
from ..result import LimitResult, exact_text
from .atoms import AtomInfo, FamilyInfo
from .domain import PolynomialDomain
from .scalars import domain_name


class Limit(LimitResult):
    """The infinite-width limit of a program (TP4 Definition 7.3 / Master Theorem 7.4).

    * ``scalars``: every scalar's limit θ̊ (sympy numbers; Rational when exact);
    * ``outputs``: the program's output scalars, in order;
    * ``Z(name)``: Z of a vector in terms of the atoms (``atoms``), symbolic;
    * ``families``: the independent Gaussian families, each with its exact covariance;
    * ``mode``: "exact" or "float"; ``domain``: "QQ" (exact rationals), "EX" (exact with
      irrational constants), "RR" (float inputs in exact mode) or "float64" (``mode="float"``);
    * ``backend`` / ``representation``: which polynomial algebra did the work;
    * ``stats``: sizes reached (largest polynomial in terms, digits, degree; where; seconds).
    """

    def __init__(self, program: Program, engine: PolynomialDomain, mode: str, seconds: float,
                 meter: Meter | None = None, plan: DegreePlan | None = None) -> None:
        self.program = program
        self.mode = mode
        self.domain = domain_name(engine.K)
        self.scalars: dict[str, sp.Expr] = dict(engine.scalars.values)
        self.seconds = seconds
        self.zdot = engine.zdot
        self.expectation = engine.expectation
        self.backend = engine.B.name
        self.representation = getattr(engine.B, "representation", engine.B.name)
        self.stats: dict[str, Any] = {"seconds": seconds, "backend": self.backend,
                                      "representation": self.representation}
        if meter is not None:
            self.stats.update({f"max_{k}": v for k, v in meter.peak.items()})
            self.stats.update({f"max_{k}_node": v for k, v in meter.peak_node.items()})
        if plan is not None:
            self.stats["linear"] = plan.linear
        self._engine = engine

    def is_exact(self, name: str) -> bool:
        """True when the scalar's limit is exact (no floating point entered its computation)."""
        v = self._known(name)
        return self.mode != "float" and self.domain != "RR" and not v.has(sp.Float)

    @property
    def kind(self) -> str:
        return "float64" if self.mode == "float" or self.domain == "RR" else self.mode

    def Z(self, name: str) -> sp.Expr:
        """Z^name in terms of the atom symbols (Z^{h} for initial vectors, Ẑ^{W̄y} otherwise)."""
        if name not in self._engine.Z:
            raise ProgramError(f"'{name}' is not a vector of this program")
        return self._engine.Z(name)

    def Z_innovations(self, name: str) -> sp.Expr:
        """Z^name as an expanded polynomial in the independent innovations u_k ~ N(0, d_k)."""
        eng = self._engine
        if name not in eng.zrep:
            raise ProgramError(f"'{name}' is not a vector of this program")
        p = eng.zrep[name]
        atoms = eng.atoms
        if atoms.atom_basis:
            p = eng.B.substitute_linear(p, {a.index: atoms.linear_rep(a.index)
                                            for a in atoms.atoms})  # fmt: skip
        return eng.B.to_sympy(p)

    def innovation_variances(self) -> dict[str, sp.Expr]:
        """Variance d_k of each innovation u_k that is not identically zero."""
        eng = self._engine
        fam = eng.atoms.family
        return {
            f"u{a.index}": eng.K.to_sympy(fam[a.index].d[a.index])
            for a in eng.atoms.atoms
            if fam[a.index].d[a.index]
        }

    @property
    def atoms(self) -> dict[str, AtomInfo]:
        return {a.symbol.name: a for a in self._engine.atoms.atoms}

    @property
    def families(self) -> dict[str, FamilyInfo]:
        eng = self._engine
        out = {}
        for name, fam in eng.atoms.families.items():
            idx = fam.members
            cov = fam.gaussian.cov
            C = sp.Matrix([[eng.K.to_sympy(cov[(i, j)]) for j in idx] for i in idx])
            matrix, t, s2 = eng.atoms.meta[name]
            out[name] = FamilyInfo(
                name, tuple(eng.atoms.atoms[i].symbol.name for i in idx), C, matrix, t, s2
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: every scalar as exact text, float and exactness flag."""

        def entry(name: str) -> dict[str, Any]:
            return {"value": exact_text(self.scalars[name]), "float": self.as_float(name),
                    "exact": self.is_exact(name)}

        return {
            "program": self.program.name,
            "mode": self.mode,
            "domain": self.domain,
            "backend": self.backend,
            "zdot": self.zdot,
            "expectation": self.expectation,
            "seconds": self.seconds,
            "outputs": {n: entry(n) for n in self.outputs},
            "scalars": {n: entry(n) for n in self.scalars},
        }
