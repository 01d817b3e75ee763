"""The Gaussian atoms of a polynomial limit and the families they belong to (TP4 Def. 7.3 ZInit,
ZHat).

An atom is Z^h of an initial vector h or Ẑ^{W̄y} of a MatMul node; the atoms of one family
(the initial vectors, or one matrix-with-orientation W̄) are jointly Gaussian, different families
independent. A polynomial Z has as generators either the independent LDLᵀ innovations of the
families (expectation route "innovations") or the atoms themselves ("isserlis", and the linear
backend, which keeps the atoms' covariance and never factors it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ..gaussian import GaussianFamily
from ..ir import fresh_name


@dataclass(frozen=True)
class AtomInfo:
    """One Gaussian atom: Z^{h} of an initial vector h, or Ẑ^{W̄y} of a MatMul node."""

    symbol: sp.Symbol
    index: int
    family: str
    node: str
    vector: str | None = None  # the y of Ẑ^{W̄y}


@dataclass(frozen=True)
class FamilyInfo:
    """A jointly Gaussian family: its atoms (in order) and exact covariance matrix."""

    name: str
    atoms: tuple[str, ...]
    covariance: sp.Matrix
    matrix: str | None = None
    transpose: bool = False
    sigma2: sp.Expr | None = None


class Atoms:
    """Every atom so far, with its family; atom ``i`` is the backend's generator ``i`` (atom
    basis) or a linear form in the innovations."""

    def __init__(self, backend: Any, atom_basis: bool) -> None:
        self.B = backend
        self.K = backend.K
        self.atom_basis = atom_basis
        self.atoms: list[AtomInfo] = []
        self.by_name: dict[str, AtomInfo] = {}  # atom symbol name -> info
        self.of_node: dict[str, AtomInfo] = {}  # node name -> its atom
        self.family: dict[int, Any] = {}  # atom index -> its backend family
        self.families: dict[str, PolyFamily] = {}
        self.meta: dict[str, tuple[str | None, bool, sp.Expr | None]] = {}

    def new_family(self, name: str, matrix: str | None, transpose: bool,
                   sigma2: sp.Expr | None) -> PolyFamily:  # fmt: skip
        make = getattr(self.B, "new_family", None)
        fam = PolyFamily(self, make(name) if make is not None else GaussianFamily(name, self.K))
        self.families[name] = fam
        self.meta[name] = (matrix, transpose, sigma2)
        return fam

    def new_atom(self, fam: PolyFamily, node: str, vector: str | None) -> AtomInfo:
        label = f"Z^{{{node}}}" if vector is None else fam_label(fam.name, vector)
        name = fresh_name(label, self.by_name, start=2, sep="#", bare=True)
        info = AtomInfo(sp.Symbol(name, real=True), len(self.atoms), fam.name, node, vector)
        self.atoms.append(info)
        self.by_name[name] = info
        self.of_node[node] = info
        self.family[info.index] = fam.gaussian
        return info

    def rep(self, index: int) -> Any:
        """Atom ``index`` as a polynomial in the basis in use."""
        if self.atom_basis:
            return self.B.gen(index)
        return self.linear_rep(index)

    def linear_rep(self, index: int) -> Any:
        """Atom ``index`` as a linear form in the innovations."""
        return self.B.linear(self.family[index].linear_form(index))

    def cov(self, i: int, j: int) -> Any:
        """Cov(atom i, atom j): 0 across families."""
        fam = self.family[i]
        if self.family[j] is not fam:
            return self.K.zero
        return fam.cov[(i, j)]


def fam_label(family: str, vector: str) -> str:
    """Ẑ^{W y} / Ẑ^{Wᵀ y}: the family name already carries the orientation."""
    return f"Ẑ^{{{family} {vector}}}"


class PolyFamily:
    """One family as the Z-calculus driver sees it (tensorprog.zrules.ZFamily): every atom is
    kept, ``inputs`` lists their y, and covariances are exact in the backend's domain."""

    def __init__(self, atoms: Atoms, gaussian: Any) -> None:
        self.atoms = atoms
        self.gaussian = gaussian  # gaussian.GaussianFamily, or the linear backend's family
        self.name: str = gaussian.name
        self.inputs: list[str] = []

    @property
    def members(self) -> list[int]:
        """The atoms' indices, in order (the backend family keeps them)."""
        return self.gaussian.members

    def add(self, var: Any, cov: Sequence[Any], node: str, vector: str | None) -> Any:
        info = self.atoms.new_atom(self, node, vector)
        self.gaussian.add(info.index, var, dict(zip(self.members, cov)))  # (before it appends)
        self.inputs.append(node if vector is None else vector)
        # The variance of generator ``index``: the LDLᵀ pivot of an innovation, or (atom
        # basis) the atom's own variance, which the float backend uses only to size terms.
        B, g = self.atoms.B, self.gaussian
        B.set_pivot(info.index, g.cov[(info.index, info.index)] if self.atoms.atom_basis
                    else g.d[info.index])  # fmt: skip
        return self.atoms.rep(info.index)
