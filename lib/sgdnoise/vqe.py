r"""Variational quantum eigensolver (VQE) with shot noise, on a small NumPy state-vector simulator.

A VQE minimizes the energy :math:`E(\theta) = \langle\psi(\theta)|H|\psi(\theta)\rangle` of a
parametrized circuit state (Peruzzo et al. 2014). On hardware, :math:`E` is never known exactly: it
is a sum :math:`H = h_0 I + \sum_k h_k P_k` of Pauli strings, and each
:math:`\langle P_k\rangle` is estimated from a finite number of measurement outcomes ("shots")
that are :math:`\pm 1` with probabilities :math:`(1 \pm \langle P_k\rangle)/2`. With :math:`s`
shots of each term measured separately,

.. math::

    \operatorname{Var}\hat E = \sum_k h_k^2\,\frac{1 - \langle P_k\rangle^2}{s},

so every energy, and every gradient built from energies, is a noisy estimate — the quantum
analogue of a mini-batch gradient, with the number of shots in the role of the batch size.

Conventions. Qubit 0 is the least significant bit of the basis-state index (as in Qiskit); a Pauli
label is read right to left, ``"ZI"`` is :math:`Z` on qubit 1 and :math:`I` on qubit 0, and its
matrix is ``kron(Z, I)``. States are complex arrays of shape ``(..., 2**n)``; every function is
vectorized over the leading axes (parameter sets, seeds, repetitions).

References: Peruzzo et al. (2014); O'Malley et al. (2016); Kandala et al. (2017); Mitarai et al.
(2018) and Schuld et al. (2019) for the parameter-shift rule; Spall (1992, 1998) for SPSA.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import math
from itertools import product

import numpy as np

from ._progress import progress
from ._validate import check_positive_float, check_positive_int, numpy_generator

#: Bohr radius in ångström (CODATA 2018).
BOHR_IN_ANGSTROM = 0.529177210903
#: Chemical accuracy, 1 kcal/mol in hartree (rounded, as usually quoted).
CHEMICAL_ACCURACY = 1.6e-3

PAULI_MATRICES: dict[str, np.ndarray] = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}

#: The controlled-NOT gate as a 4x4 matrix on (control, target), basis order |control target>.
CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)


# ----------------------------------------------------------------------------------- Paulis

def _check_label(label: str, n_qubits: int | None = None) -> str:
    if not isinstance(label, str) or not label or set(label) - set("IXYZ"):
        raise ValueError(f"Pauli label must be a non-empty string over 'IXYZ', got {label!r}")
    if n_qubits is not None and len(label) != n_qubits:
        raise ValueError(f"Pauli label {label!r} must have length n_qubits = {n_qubits}")
    return label


def pauli_matrix(label: str) -> np.ndarray:
    """The matrix of a Pauli string, ``kron`` of its letters from left (highest qubit) to right.

    Parameters
    ----------
    label : str
        Letters from ``"IXYZ"``; the rightmost letter acts on qubit 0.

    Returns
    -------
    numpy.ndarray, shape (2**n, 2**n), complex

    Examples
    --------
    >>> pauli_matrix("ZI").real.diagonal().tolist()   # Z on qubit 1: sign of bit 1 of the index
    [1.0, 1.0, -1.0, -1.0]
    """
    _check_label(label)
    out = np.ones((1, 1), dtype=complex)
    for letter in label:
        out = np.kron(out, PAULI_MATRICES[letter])
    return out


@dataclass(frozen=True)
class PauliHamiltonian:
    r"""A qubit Hamiltonian :math:`H = \sum_k h_k P_k + E_\text{const}`.

    Attributes
    ----------
    terms : dict[str, float]
        Pauli label -> real coefficient (hartree). The identity term, if any, is included here.
    constant : float
        An energy added to every expectation value (e.g. the nuclear repulsion), hartree.
    """

    terms: dict[str, float]
    constant: float = 0.0
    n_qubits: int = field(init=False)

    def __post_init__(self):
        if not self.terms:
            raise ValueError("terms must contain at least one Pauli string")
        lengths = {len(_check_label(lbl)) for lbl in self.terms}
        if len(lengths) != 1:
            raise ValueError(f"terms must all act on the same number of qubits, got lengths {sorted(lengths)}")
        object.__setattr__(self, "n_qubits", lengths.pop())
        coeffs = np.array([float(v) if np.isscalar(v) else np.nan for v in self.terms.values()])
        if not np.isfinite(coeffs).all():
            raise ValueError(f"terms must map each Pauli label to a finite real coefficient, got {self.terms}")
        if not np.isscalar(self.constant) or not np.isfinite(float(self.constant)):
            raise ValueError(f"constant must be a finite number, got {self.constant!r}")

    @property
    def identity_label(self) -> str:
        return "I" * self.n_qubits

    @property
    def offset(self) -> float:
        """The part of every energy that needs no measurement: identity coefficient + constant."""
        return float(self.terms.get(self.identity_label, 0.0)) + float(self.constant)

    @property
    def measured_terms(self) -> dict[str, float]:
        """The non-identity terms, each of which must be estimated from shots."""
        return {k: float(v) for k, v in self.terms.items() if k != self.identity_label}

    def matrix(self) -> np.ndarray:
        """The Hermitian matrix of :math:`H` including the constant, shape ``(2**n, 2**n)``."""
        dim = 2 ** self.n_qubits
        return sum(c * pauli_matrix(lbl) for lbl, c in self.terms.items()) + self.constant * np.eye(dim)


def h2_bond_length_to_nuclear_repulsion(bond_length_angstrom: float) -> float:
    r"""Nuclear repulsion of two protons, :math:`1/R` in hartree with :math:`R` in bohr.

    Examples
    --------
    >>> round(h2_bond_length_to_nuclear_repulsion(0.735), 6)
    0.719969
    """
    r = check_positive_float("bond_length_angstrom", bond_length_angstrom)
    return BOHR_IN_ANGSTROM / r


def h2_hamiltonian() -> PauliHamiltonian:
    r"""H₂ in the STO-3G basis at 0.735 Å as a 2-qubit Hamiltonian (parity mapping, two-qubit reduction).

    The coefficients are those produced by Qiskit Nature (PySCF integrals, Jordan–Wigner → parity
    mapping with the two-qubit reduction) for this geometry:

    .. math::

        H = -1.05237\,II + 0.39794\,IZ - 0.39794\,ZI - 0.01128\,ZZ + 0.18093\,XX + E_\text{nuc},

    with :math:`E_\text{nuc} = 1/R = 0.719969` Ha. The exact ground energy is
    :math:`-1.857275` Ha (electronic) :math:`= -1.137306` Ha in total. Rounding the five
    coefficients to four decimals moves the ground energy by at most :math:`5\times 5\times10^{-5}`
    Ha (Weyl's inequality, every Pauli string has norm 1), i.e. by at most 0.3 mHa.

    Returns
    -------
    PauliHamiltonian

    References
    ----------
    O'Malley et al. (2016) for the 2-qubit reduction of H₂; Kandala et al. (2017).

    Examples
    --------
    >>> h = h2_hamiltonian()
    >>> round(float(exact_ground_energy(h)), 6)
    -1.137306
    """
    terms = {
        "II": -1.052373245772859,
        "IZ": 0.39793742484318045,
        "ZI": -0.39793742484318045,
        "ZZ": -0.01128010425623538,
        "XX": 0.18093119978423156,
    }
    return PauliHamiltonian(terms, constant=h2_bond_length_to_nuclear_repulsion(0.735))


#: O'Malley et al. (2016), Table I, the row R = 0.75 Å: coefficients of
#: :math:`g_0 I + g_1 Z_0 + g_2 Z_1 + g_3 Z_0 Z_1 + g_4 Y_0 Y_1 + g_5 X_0 X_1` in hartree, as printed
#: (four decimals; :math:`g_0` includes the nuclear repulsion). The paper's basis is STO-6G.
OMALLEY2016_R075 = {"II": 0.2252, "IZ": 0.3435, "ZI": -0.4347, "ZZ": 0.5716, "YY": 0.0910, "XX": 0.0910}


def h2_omalley2016_hamiltonian() -> PauliHamiltonian:
    r"""The 2-qubit H₂ Hamiltonian of the table printed in O'Malley et al. (2016), row R = 0.75 Å.

    Bravyi–Kitaev mapping with two qubits removed; the coefficients are those printed in the paper's
    Table I, to four decimals (:data:`OMALLEY2016_R075`). The paper's Hamiltonian is built in the
    **STO-6G** minimal basis, not STO-3G: its ground energy agrees with ``h2_fci_energy(0.75,
    "STO-6G")`` (:math:`-1.145742` Ha) to 0.14 mHa and lies 8.5 mHa below the STO-3G value. Rounding
    to four decimals changes each coefficient by at most :math:`5\times10^{-5}` Ha, hence (Weyl's
    inequality, :math:`\lVert P\rVert = 1`) the ground energy by at most
    :math:`\sum_k 5\times10^{-5} = 3\times10^{-4}` Ha.

    Examples
    --------
    >>> round(exact_ground_energy(h2_omalley2016_hamiltonian()), 4)
    -1.1456
    """
    return PauliHamiltonian(dict(OMALLEY2016_R075))


#: STO-3G basis of hydrogen (exponents in bohr^-2, contraction coefficients of normalized primitives).
STO3G_H_EXPONENTS = (3.42525091, 0.62391373, 0.16885540)
STO3G_H_COEFFS = (0.15432897, 0.53532814, 0.44463454)
#: STO-6G basis of hydrogen (Hehre, Stewart & Pople 1969, zeta = 1 exponents scaled by 1.24^2).
STO6G_H_EXPONENTS = tuple(a * 1.24 ** 2 for a in (23.10303149, 4.235915534, 1.185056519,
                                                  0.4070988982, 0.1580884151, 0.06510953954))
STO6G_H_COEFFS = (0.009163596281, 0.04936149294, 0.1685383049, 0.3705627997, 0.4164915298, 0.1303340841)
#: Minimal bases available to :func:`h2_fci_energy`: name -> (exponents, contraction coefficients).
H_MINIMAL_BASES = {"STO-3G": (STO3G_H_EXPONENTS, STO3G_H_COEFFS), "STO-6G": (STO6G_H_EXPONENTS, STO6G_H_COEFFS)}


def _boys0(t: float) -> float:
    return 1.0 if t < 1e-12 else 0.5 * np.sqrt(np.pi / t) * math.erf(np.sqrt(t))


def h2_sto3g_fci_energy(bond_length_angstrom: float) -> float:
    """Full-CI ground energy of H₂ in the STO-3G basis: ``h2_fci_energy(bond_length_angstrom, "STO-3G")``.

    Examples
    --------
    >>> round(h2_sto3g_fci_energy(0.735), 6)
    -1.137306
    """
    return h2_fci_energy(bond_length_angstrom, "STO-3G")


def h2_fci_energy(bond_length_angstrom: float, basis: str = "STO-3G") -> float:
    r"""Full-CI ground energy of H₂ in a minimal STO-nG basis, from the Gaussian integrals (no qubit mapping).

    Computes the overlap, kinetic, nuclear-attraction and electron-repulsion integrals of the
    s-type Gaussian primitives (3 or 6 per atom) in closed form (Szabo & Ostlund 1996, appendix A, with the Boys
    function :math:`F_0`), forms the symmetry-adapted orbitals :math:`\sigma_{g,u} \propto
    \phi_A \pm \phi_B` (exact Hartree–Fock orbitals of the minimal basis), and diagonalizes the
    :math:`2\times2` CI matrix of :math:`|\sigma_g^2\rangle` and :math:`|\sigma_u^2\rangle`:

    .. math:: E = \min\operatorname{eig}\begin{pmatrix} 2h_{gg} + J_{gg} & K_{gu} \\
        K_{gu} & 2h_{uu} + J_{uu}\end{pmatrix} + \frac1R .

    An independent route to the energy that :func:`h2_hamiltonian` encodes in Pauli coefficients.

    Parameters
    ----------
    bond_length_angstrom : float
        Internuclear distance :math:`R` in Å (> 0).
    basis : {"STO-3G", "STO-6G"}
        Minimal basis of each hydrogen atom (:data:`H_MINIMAL_BASES`). Different bases give energies
        that differ by more than chemical accuracy (8.5 mHa at 0.75 Å): compare within one basis.

    Returns
    -------
    float
        Total energy (electronic + nuclear repulsion), hartree.

    Examples
    --------
    >>> round(h2_fci_energy(0.735), 6)
    -1.137306
    >>> round(h2_fci_energy(0.75, "STO-6G"), 5)
    -1.14574
    """
    R = check_positive_float("bond_length_angstrom", bond_length_angstrom) / BOHR_IN_ANGSTROM
    if basis not in H_MINIMAL_BASES:
        raise ValueError(f"basis must be one of {sorted(H_MINIMAL_BASES)}, got {basis!r}")
    exponents, coeffs = H_MINIMAL_BASES[basis]
    n_prim = len(exponents)
    centers = (0.0, R)
    a = np.array(exponents)
    prims = [(ai, c) for c in centers for ai in a]
    d = np.array(coeffs) * (2 * a / np.pi) ** 0.75
    contraction = np.zeros((2 * n_prim, 2))                  # primitive -> basis function phi_A, phi_B
    contraction[:n_prim, 0], contraction[n_prim:, 1] = d, d
    S, T, V = (np.zeros((2 * n_prim, 2 * n_prim)) for _ in range(3))
    pair = {}
    for i, (ai, A) in enumerate(prims):
        for j, (aj, B) in enumerate(prims):
            p = ai + aj
            P, k = (ai * A + aj * B) / p, np.exp(-ai * aj / p * (A - B) ** 2)
            pair[i, j] = (p, P, k)
            S[i, j] = (np.pi / p) ** 1.5 * k
            T[i, j] = ai * aj / p * (3 - 2 * ai * aj / p * (A - B) ** 2) * S[i, j]
            V[i, j] = sum(-2 * np.pi / p * k * _boys0(p * (P - C) ** 2) for C in centers)
    eri = np.zeros((2 * n_prim,) * 4)
    for (i, j), (p, P, kab) in pair.items():
        for (k, m), (q, Q, kcd) in pair.items():
            eri[i, j, k, m] = (2 * np.pi ** 2.5 / (p * q * np.sqrt(p + q)) * kab * kcd
                               * _boys0(p * q / (p + q) * (P - Q) ** 2))
    s = (contraction.T @ S @ contraction)[0, 1]
    C = contraction @ (np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt([2 * (1 + s), 2 * (1 - s)]))
    h = C.T @ (T + V) @ C
    g = np.einsum("pqrs,pi,qj,rk,sl->ijkl", eri, C, C, C, C)
    ci = np.array([[2 * h[0, 0] + g[0, 0, 0, 0], g[0, 1, 0, 1]],
                   [g[0, 1, 0, 1], 2 * h[1, 1] + g[1, 1, 1, 1]]])
    return float(np.linalg.eigvalsh(ci)[0] + 1 / R)


def exact_ground_energy(hamiltonian: PauliHamiltonian) -> float:
    """The lowest eigenvalue of the Hamiltonian's matrix (including its constant), by diagonalization."""
    _check_hamiltonian(hamiltonian)
    return float(np.linalg.eigvalsh(hamiltonian.matrix())[0])


# ------------------------------------------------------------------------------ simulator

def basis_state(index: int, n_qubits: int) -> np.ndarray:
    """The computational basis state :math:`|\\text{index}\\rangle` (qubit 0 = least significant bit).

    Examples
    --------
    >>> basis_state(1, 2).real.tolist()   # |q1 q0> = |01>
    [0.0, 1.0, 0.0, 0.0]
    """
    n_qubits = check_positive_int("n_qubits", n_qubits)
    index = check_positive_int("index", index, minimum=0, maximum=2 ** n_qubits - 1)
    psi = np.zeros(2 ** n_qubits, dtype=complex)
    psi[index] = 1.0
    return psi


def ry_matrix(theta) -> np.ndarray:
    r"""The rotation :math:`R_y(\theta) = \exp(-i\theta Y/2)`, vectorized: shape ``theta.shape + (2, 2)``.

    Examples
    --------
    >>> bool(np.allclose(ry_matrix(np.pi) @ [1, 0], [0, 1]))
    True
    """
    t = _finite_angles("theta", theta) / 2
    c, s = np.cos(t), np.sin(t)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2).astype(complex)


def _finite_angles(name: str, theta) -> np.ndarray:
    t = np.asarray(theta, dtype=float)
    if not np.isfinite(t).all():
        raise ValueError(f"{name} must be finite angles (radians), got {theta!r}")
    return t


def _check_hamiltonian(hamiltonian) -> None:
    if not isinstance(hamiltonian, PauliHamiltonian):
        raise ValueError(f"hamiltonian must be a PauliHamiltonian, got {type(hamiltonian).__name__}")


def _n_qubits_of(state: np.ndarray, hamiltonian: PauliHamiltonian | None = None) -> int:
    shape = np.shape(state)
    if len(shape) == 0 or shape[-1] < 1:
        raise ValueError(f"state must have a last axis of length 2**n, got shape {shape}")
    n = int(np.log2(shape[-1]))
    if 2 ** n != shape[-1]:
        raise ValueError(f"state must have a last axis of length 2**n, got {shape[-1]}")
    if hamiltonian is not None:
        _check_hamiltonian(hamiltonian)
        if n != hamiltonian.n_qubits:
            raise ValueError(f"state has {n} qubits (last axis {shape[-1]}) but hamiltonian acts on "
                             f"{hamiltonian.n_qubits}")
    return n


def apply_single_qubit_gate(state: np.ndarray, gate: np.ndarray, qubit: int) -> np.ndarray:
    """Apply a one-qubit gate to ``qubit``; ``gate`` is ``(2, 2)`` or batched ``(..., 2, 2)``.

    Parameters
    ----------
    state : numpy.ndarray, shape (..., 2**n)
    gate : numpy.ndarray, shape (2, 2) or broadcastable (..., 2, 2)
    qubit : int in [0, n)

    Returns
    -------
    numpy.ndarray, shape (..., 2**n)
    """
    n = _n_qubits_of(state)
    qubit = check_positive_int("qubit", qubit, minimum=0, maximum=n - 1)
    state = np.asarray(state)
    if np.ndim(gate) < 2 or np.shape(gate)[-2:] != (2, 2):
        raise ValueError(f"gate must have shape (2, 2) or (..., 2, 2), got {np.shape(gate)}")
    lead = state.shape[:-1]
    # axis order of the reshaped tensor: (..., bit n-1, ..., bit 0); qubit q is axis -(q+1)
    psi = state.reshape(lead + (2 ** (n - 1 - qubit), 2, 2 ** qubit))
    out = np.einsum("...ij,...ajb->...aib", gate, psi)
    return out.reshape(np.broadcast_shapes(lead, np.shape(gate)[:-2]) + (2 ** n,))


def apply_cnot(state: np.ndarray, control: int, target: int) -> np.ndarray:
    """Apply a CNOT (flip ``target`` where ``control`` is 1) to a batch of states."""
    n = _n_qubits_of(state)
    control = check_positive_int("control", control, minimum=0, maximum=n - 1)
    target = check_positive_int("target", target, minimum=0, maximum=n - 1)
    if control == target:
        raise ValueError(f"control and target must differ, got {control}")
    state = np.asarray(state)
    idx = np.arange(2 ** n)
    perm = np.where((idx >> control) & 1, idx ^ (1 << target), idx)
    return state[..., perm]


def pauli_expectations(state: np.ndarray, labels) -> np.ndarray:
    r"""Exact expectation values :math:`\langle\psi|P_k|\psi\rangle` for several Pauli strings.

    Parameters
    ----------
    state : numpy.ndarray, shape (..., 2**n)
        Normalized states.
    labels : sequence of str
        K Pauli labels of length n.

    Returns
    -------
    numpy.ndarray, shape (..., K), real, in [-1, 1]

    Examples
    --------
    >>> pauli_expectations(basis_state(1, 2), ["IZ", "ZI", "XX"]).round(12).tolist()
    [-1.0, 1.0, 0.0]
    """
    n = _n_qubits_of(state)
    state = np.asarray(state)
    if isinstance(labels, str):
        raise ValueError(f"labels must be a sequence of Pauli labels, got the string {labels!r}")
    mats = np.stack([pauli_matrix(_check_label(lbl, n)) for lbl in labels])
    return np.einsum("...i,kij,...j->...k", state.conj(), mats, state).real


def energy(state: np.ndarray, hamiltonian: PauliHamiltonian) -> np.ndarray:
    r"""Exact energy :math:`\langle\psi|H|\psi\rangle`, shape ``state.shape[:-1]``."""
    _n_qubits_of(state, hamiltonian)
    state = np.asarray(state)
    terms = hamiltonian.measured_terms
    if not terms:
        return np.full(state.shape[:-1], hamiltonian.offset)
    coeffs = np.array(list(terms.values()))
    return hamiltonian.offset + pauli_expectations(state, list(terms)) @ coeffs


# --------------------------------------------------------------------------------- ansätze

def one_parameter_state(theta) -> np.ndarray:
    r"""The one-parameter H₂ ansatz :math:`\cos\frac\theta2|01\rangle + \sin\frac\theta2|10\rangle`.

    Circuit: X on qubit 0 (the Hartree–Fock state :math:`|01\rangle` of the parity-mapped H₂),
    :math:`R_y(\theta)` on qubit 1, CNOT from qubit 1 to qubit 0. It spans the particle-number
    sector that holds the ground state, so one parameter reaches the exact ground energy.

    Parameters
    ----------
    theta : float or numpy.ndarray of shape (...) or (..., 1)
        Angle(s), radians. A trailing axis of length 1 (a parameter vector) is allowed.

    Returns
    -------
    numpy.ndarray, shape (..., 4), complex

    Examples
    --------
    >>> one_parameter_state(np.pi).real.round(12).tolist()
    [0.0, 0.0, 1.0, 0.0]
    """
    theta = _finite_angles("theta", theta)
    psi = np.broadcast_to(basis_state(1, 2), theta.shape + (4,))
    psi = apply_single_qubit_gate(psi, ry_matrix(theta), qubit=1)
    out = apply_cnot(psi, control=1, target=0)
    return out[..., 0, :] if theta.ndim and theta.shape[-1] == 1 else out


def hardware_efficient_n_params(n_qubits: int, n_layers: int) -> int:
    """Number of angles of :func:`hardware_efficient_state`: ``n_qubits * (n_layers + 1)``."""
    return check_positive_int("n_qubits", n_qubits) * (check_positive_int("n_layers", n_layers, minimum=0) + 1)


def hardware_efficient_state(params: np.ndarray, n_qubits: int = 2) -> np.ndarray:
    r"""A hardware-efficient ansatz: layers of :math:`R_y` rotations and a CNOT ladder (Kandala et al. 2017).

    From :math:`|0\cdots0\rangle`: a layer of :math:`R_y` on every qubit, then ``n_layers`` times
    (CNOTs ``q → q+1`` for ``q = 0..n−2``, another :math:`R_y` layer). Real amplitudes only, which
    suffices for real Hamiltonians such as H₂; with two qubits one layer already reaches every real
    state.

    Parameters
    ----------
    params : numpy.ndarray, shape (..., n_qubits * (n_layers + 1))
        Angles in radians, layer by layer, qubit 0 first within a layer.
    n_qubits : int

    Returns
    -------
    numpy.ndarray, shape (..., 2**n_qubits), complex

    Examples
    --------
    >>> hardware_efficient_state(np.zeros(4)).real.tolist()
    [1.0, 0.0, 0.0, 0.0]
    """
    n_qubits = check_positive_int("n_qubits", n_qubits)
    params = np.asarray(params, dtype=float)
    if params.ndim == 0 or params.shape[-1] % n_qubits:
        raise ValueError(f"params must have a last axis that is a multiple of n_qubits = {n_qubits}, "
                         f"got shape {params.shape}")
    n_layers = params.shape[-1] // n_qubits - 1
    psi = np.broadcast_to(basis_state(0, n_qubits), params.shape[:-1] + (2 ** n_qubits,))
    for layer in range(n_layers + 1):
        if layer:
            for q in range(n_qubits - 1):
                psi = apply_cnot(psi, control=q, target=q + 1)
        for q in range(n_qubits):
            psi = apply_single_qubit_gate(psi, ry_matrix(params[..., layer * n_qubits + q]), q)
    return psi


# ------------------------------------------------------------------------------ shot noise

def sample_pauli_estimates(expectations, shots: int, *, generator: np.random.Generator | None = None) -> np.ndarray:
    r"""Shot-noise estimates of Pauli expectation values from ``shots`` measurement outcomes each.

    Each outcome is :math:`+1` with probability :math:`p = (1 + \langle P\rangle)/2`, so the number
    of :math:`+1` outcomes is binomial, :math:`k \sim \mathrm{Bin}(s, p)`, and the estimate
    :math:`2k/s - 1` is unbiased with variance :math:`(1 - \langle P\rangle^2)/s`.

    Parameters
    ----------
    expectations : array_like, any shape
        Exact :math:`\langle P\rangle` in [-1, 1] (tiny rounding excursions are clipped).
    shots : int
        Number of measurement outcomes per estimate, >= 1.
    generator : numpy.random.Generator, optional
        The randomness; ``None`` draws from a fresh generator seeded from the OS's entropy.

    Returns
    -------
    numpy.ndarray, same shape as ``expectations``

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> sample_pauli_estimates(np.array([1.0, -1.0]), 100, generator=g).tolist()   # eigenstates: no noise
    [1.0, -1.0]
    """
    shots = check_positive_int("shots", shots)
    rng = numpy_generator(generator)
    e = np.asarray(expectations, dtype=float)
    if np.any(np.abs(e) > 1 + 1e-9) or not np.all(np.isfinite(e)):
        raise ValueError("expectations must be finite and in [-1, 1]")
    p_plus = np.clip((1 + e) / 2, 0.0, 1.0)
    return 2.0 * rng.binomial(shots, p_plus) / shots - 1.0


def pauli_estimate_variance(expectations, shots: int) -> np.ndarray:
    r"""Variance of a shot-noise Pauli estimate, :math:`(1 - \langle P\rangle^2)/s`.

    Examples
    --------
    >>> float(pauli_estimate_variance(0.0, 100))
    0.01
    """
    shots = check_positive_int("shots", shots)
    e = np.asarray(expectations, dtype=float)
    if not np.isfinite(e).all() or (np.abs(e) > 1).any():
        raise ValueError("expectations must be finite and in [-1, 1]")
    return (1.0 - e ** 2) / shots


def sample_energy(state: np.ndarray, hamiltonian: PauliHamiltonian, shots_per_term: int, *,
                  generator: np.random.Generator | None = None) -> np.ndarray:
    r"""A shot-noise estimate of :math:`\langle H\rangle`, measuring each Pauli term separately.

    :math:`\hat E = h_0 + E_\text{const} + \sum_k h_k \hat P_k` with independent binomial estimates
    :math:`\hat P_k` from ``shots_per_term`` outcomes each; the cost is
    ``shots_per_term * len(hamiltonian.measured_terms)`` shots per estimate.

    Parameters
    ----------
    state : numpy.ndarray, shape (..., 2**n)
    hamiltonian : PauliHamiltonian
    shots_per_term : int
    generator : numpy.random.Generator, optional
        The randomness; ``None`` draws from a fresh generator seeded from the OS's entropy.

    Returns
    -------
    numpy.ndarray, shape (...)
    """
    _n_qubits_of(state, hamiltonian)
    shots_per_term = check_positive_int("shots_per_term", shots_per_term)
    rng = numpy_generator(generator)
    terms = hamiltonian.measured_terms
    coeffs = np.array(list(terms.values()))
    est = sample_pauli_estimates(pauli_expectations(state, list(terms)), shots_per_term, generator=rng)
    return hamiltonian.offset + est @ coeffs


def energy_estimator_variance(state: np.ndarray, hamiltonian: PauliHamiltonian,
                              shots_per_term: int) -> np.ndarray:
    r"""Variance of :func:`sample_energy`, :math:`\sum_k h_k^2 (1 - \langle P_k\rangle^2)/s`.

    Examples
    --------
    >>> h = h2_hamiltonian()
    >>> v = energy_estimator_variance(basis_state(1, 2), h, 1000)   # only XX fluctuates here
    >>> bool(np.isclose(v, 0.18093119978423156 ** 2 / 1000))
    True
    """
    _n_qubits_of(state, hamiltonian)
    shots_per_term = check_positive_int("shots_per_term", shots_per_term)
    terms = hamiltonian.measured_terms
    coeffs = np.array(list(terms.values()))
    return pauli_estimate_variance(pauli_expectations(state, list(terms)), shots_per_term) @ coeffs ** 2


def shots_per_energy(hamiltonian: PauliHamiltonian, shots_per_term: int) -> int:
    """Shots spent on one energy estimate: ``shots_per_term`` times the number of measured terms."""
    _check_hamiltonian(hamiltonian)
    return check_positive_int("shots_per_term", shots_per_term) * len(hamiltonian.measured_terms)


# ------------------------------------------------------------------------------- gradients

EnergyFn = Callable[[np.ndarray], np.ndarray]


def energy_function(state_fn: Callable[[np.ndarray], np.ndarray], hamiltonian: PauliHamiltonian,
                    shots_per_term: int | None = None, *,
                    generator: np.random.Generator | None = None) -> EnergyFn:
    """A vectorized map ``params (..., n) -> energies (...)``: exact, or sampled with shot noise.

    Parameters
    ----------
    state_fn : callable
        ``params (..., n) -> states (..., 2**q)``, e.g. :func:`hardware_efficient_state`.
    hamiltonian : PauliHamiltonian
    shots_per_term : int or None
        None for the exact expectation value, otherwise shots per Pauli term per evaluation.
    generator : numpy.random.Generator, optional
        The shot noise's randomness, used when ``shots_per_term`` is given (one stream for every
        evaluation); ``None`` makes a fresh generator seeded from the OS's entropy.
    """
    if not callable(state_fn):
        raise ValueError(f"state_fn must be a callable params -> states, got {type(state_fn).__name__}")
    _check_hamiltonian(hamiltonian)
    if shots_per_term is None:
        return lambda params: energy(state_fn(params), hamiltonian)
    check_positive_int("shots_per_term", shots_per_term)
    rng = numpy_generator(generator)
    return lambda params: sample_energy(state_fn(params), hamiltonian, shots_per_term, generator=rng)


def parameter_shift_gradient(energy_fn: EnergyFn, params: np.ndarray, shift: float = np.pi / 2) -> np.ndarray:
    r"""Parameter-shift gradient, :math:`\partial_i E = [E(\theta + s e_i) - E(\theta - s e_i)] / (2\sin s)`.

    Exact (not a finite difference) for gates :math:`e^{-i\theta G}` with :math:`G` having
    eigenvalues :math:`\pm 1/2`, such as :math:`R_y` (Mitarai et al. 2018; Schuld et al. 2019).
    With ``energy_fn`` sampled, it costs ``2n`` energy estimates and is unbiased.

    Parameters
    ----------
    energy_fn : callable
        Vectorized ``params (..., n) -> (...)``.
    params : numpy.ndarray, shape (..., n)
    shift : float
        :math:`s`, default :math:`\pi/2`.

    Returns
    -------
    numpy.ndarray, shape (..., n)

    Examples
    --------
    >>> f = lambda p: np.cos(p[..., 0]) + 2 * np.sin(p[..., 1])   # the form E takes in each angle
    >>> parameter_shift_gradient(f, np.array([0.3, 0.4])).round(6).tolist()
    [-0.29552, 1.842122]
    """
    if not callable(energy_fn):
        raise ValueError(f"energy_fn must be a callable params -> energies, got {type(energy_fn).__name__}")
    shift = float(shift)
    if not math.isfinite(shift) or abs(math.sin(shift)) < 1e-12:
        raise ValueError(f"shift must be finite and not a multiple of pi (sin(shift) != 0), got {shift}")
    params = np.asarray(params, dtype=float)
    if params.ndim == 0:
        raise ValueError("params must have a trailing parameter axis")
    n = params.shape[-1]
    eye = np.eye(n) * shift
    plus = energy_fn(params[..., None, :] + eye)        # (..., n)
    minus = energy_fn(params[..., None, :] - eye)
    return (plus - minus) / (2 * np.sin(shift))


def spsa_gains(k, a: float, c: float, A: float = 0.0, alpha: float = 0.602,
               gamma: float = 0.101) -> tuple[np.ndarray, np.ndarray]:
    r"""SPSA gain sequences :math:`a_k = a/(k+1+A)^\alpha`, :math:`c_k = c/(k+1)^\gamma`.

    The exponents 0.602 and 0.101 are Spall's practical choices (Spall 1998); :math:`k` counts from 0.

    Examples
    --------
    >>> a_k, c_k = spsa_gains(0, a=0.2, c=0.1, A=9)
    >>> round(float(a_k), 6), round(float(c_k), 6)
    (0.050007, 0.1)
    """
    a = check_positive_float("a", a)
    c = check_positive_float("c", c)
    A = check_positive_float("A", A, allow_zero=True)
    k = np.asarray(k, dtype=float)
    if np.any(k < 0):
        raise ValueError("k must be >= 0")
    return a / (k + 1 + A) ** alpha, c / (k + 1) ** gamma


def spsa_gradient(energy_fn: EnergyFn, params: np.ndarray, c: float, *,
                  generator: np.random.Generator | None = None) -> np.ndarray:
    r"""The SPSA gradient estimate :math:`\hat g = \frac{E(\theta + c\Delta) - E(\theta - c\Delta)}{2c}\,\Delta`.

    :math:`\Delta` has independent :math:`\pm1` entries (so :math:`1/\Delta_i = \Delta_i`). Two energy
    evaluations whatever the number of parameters; unbiased up to :math:`O(c^2)` (Spall 1992).

    Parameters
    ----------
    energy_fn : callable
        Vectorized ``params (..., n) -> (...)``.
    params : numpy.ndarray, shape (..., n)
        One independent perturbation is drawn per leading index.
    c : float
        Perturbation size, > 0.
    generator : numpy.random.Generator, optional
        The randomness; ``None`` draws from a fresh generator seeded from the OS's entropy.

    Returns
    -------
    numpy.ndarray, shape (..., n)
    """
    c = check_positive_float("c", c)
    rng = numpy_generator(generator)
    if not callable(energy_fn):
        raise ValueError(f"energy_fn must be a callable params -> energies, got {type(energy_fn).__name__}")
    params = np.asarray(params, dtype=float)
    delta = rng.choice(np.array([-1.0, 1.0]), size=params.shape)
    diff = energy_fn(params + c * delta) - energy_fn(params - c * delta)
    return (diff / (2 * c))[..., None] * delta


def parameter_shift_variance(state_fn, hamiltonian: PauliHamiltonian, params: np.ndarray,
                             shots_per_term: int) -> np.ndarray:
    r"""Variance of each component of the shot-noise parameter-shift gradient.

    :math:`\operatorname{Var}\hat g_i = [V(\theta + \tfrac\pi2 e_i) + V(\theta - \tfrac\pi2 e_i)]/4`
    with :math:`V` the energy-estimator variance (:func:`energy_estimator_variance`).

    Returns
    -------
    numpy.ndarray, shape (..., n)
    """
    shots_per_term = check_positive_int("shots_per_term", shots_per_term)
    _check_hamiltonian(hamiltonian)
    params = np.asarray(params, dtype=float)
    if params.ndim == 0:
        raise ValueError("params must have a trailing parameter axis")
    eye = np.eye(params.shape[-1]) * (np.pi / 2)
    v = [energy_estimator_variance(state_fn(params[..., None, :] + s * eye), hamiltonian, shots_per_term)
         for s in (1, -1)]
    return (v[0] + v[1]) / 4


def spsa_mean_squared_error(state_fn, hamiltonian: PauliHamiltonian, params: np.ndarray, c: float,
                            shots_per_term: int) -> float:
    r"""Exact :math:`\mathbb E\lVert\hat g_\text{SPSA} - \nabla E\rVert^2` at one point, by enumerating all :math:`\Delta`.

    Averages over the :math:`2^n` sign vectors the squared error of the noiseless SPSA estimate plus
    the shot-noise term :math:`n\,[V(\theta + c\Delta) + V(\theta - c\Delta)]/(4c^2)`. Includes the
    :math:`O(c^2)` bias. Feasible for ``n <= 16``.

    Parameters
    ----------
    params : numpy.ndarray, shape (n,)
    """
    c = check_positive_float("c", c)
    params = np.asarray(params, dtype=float)
    if params.ndim != 1:
        raise ValueError(f"params must be one parameter vector of shape (n,), got shape {params.shape}")
    n = check_positive_int("number of parameters n", params.size, maximum=16)
    deltas = np.array(list(product((-1.0, 1.0), repeat=n)))
    exact = energy_function(state_fn, hamiltonian)
    grad = parameter_shift_gradient(exact, params)
    plus, minus = state_fn(params + c * deltas), state_fn(params - c * deltas)
    g_spsa = ((energy(plus, hamiltonian) - energy(minus, hamiltonian)) / (2 * c))[:, None] * deltas
    bias_and_direction = ((g_spsa - grad) ** 2).sum(1)
    shot = n * (energy_estimator_variance(plus, hamiltonian, shots_per_term)
                + energy_estimator_variance(minus, hamiltonian, shots_per_term)) / (4 * c ** 2)
    return float((bias_and_direction + shot).mean())


# ------------------------------------------------------------------------------- optimizer

@dataclass
class VQEHistory:
    """Trajectory of :func:`optimize_with_shot_budget`.

    Attributes
    ----------
    shots : numpy.ndarray, shape (T+1,)
        Cumulative shots spent when each iterate was reached (0 for the start).
    energies : numpy.ndarray, shape (T+1, ...)
        Exact energy of each iterate (a diagnostic the optimizer never sees).
    params : numpy.ndarray, shape (..., n)
        Final parameters.
    """

    shots: np.ndarray
    energies: np.ndarray
    params: np.ndarray


def optimize_with_shot_budget(state_fn, hamiltonian: PauliHamiltonian, params0: np.ndarray, total_shots: int,
                              shots_per_term: int, method: str = "parameter-shift", lr: float = 0.5,
                              a: float = 0.5, c: float = 0.2, A: float | None = None, *,
                              generator: np.random.Generator | None = None) -> VQEHistory:
    r"""Minimize :math:`\langle H\rangle` with shot-noise gradients until a total shot budget is spent.

    ``"parameter-shift"``: gradient descent :math:`\theta \leftarrow \theta - \eta\,\hat g_\text{PS}`
    at constant learning rate ``lr``, costing :math:`2n` energy estimates per step.
    ``"spsa"``: :math:`\theta \leftarrow \theta - a_k \hat g_\text{SPSA}` with :math:`c_k` as in
    :func:`spsa_gains`, costing 2 estimates per step. Steps stop before the budget would be exceeded.
    Vectorized over independent runs: ``params0`` of shape ``(R, n)`` runs R optimizers at once.

    Parameters
    ----------
    state_fn : callable
        ``params (..., n) -> states``.
    hamiltonian : PauliHamiltonian
    params0 : numpy.ndarray, shape (..., n)
    total_shots : int
        Budget per run (all Pauli terms and evaluations counted).
    shots_per_term : int
        Shots per Pauli term per energy estimate.
    method : {"parameter-shift", "spsa"}
    lr : float
        Learning rate of parameter-shift descent.
    a, c, A : float
        SPSA gains; ``A`` defaults to 10 % of the number of SPSA steps the budget allows.
    generator : numpy.random.Generator, optional
        The randomness; ``None`` draws from a fresh generator seeded from the OS's entropy.

    Returns
    -------
    VQEHistory
    """
    if method not in ("parameter-shift", "spsa"):
        raise ValueError(f"method must be 'parameter-shift' or 'spsa', got {method!r}")
    total_shots = check_positive_int("total_shots", total_shots)
    lr = check_positive_float("lr", lr)
    rng = numpy_generator(generator)
    params = np.array(params0, dtype=float)
    if params.ndim == 0 or not np.isfinite(params).all():
        raise ValueError(f"params0 must be a finite parameter vector of shape (n,), got {params0!r}")
    n = params.shape[-1]
    per_energy = shots_per_energy(hamiltonian, shots_per_term)
    per_step = per_energy * (2 * n if method == "parameter-shift" else 2)
    n_steps = total_shots // per_step
    if n_steps < 1:
        raise ValueError(f"total_shots = {total_shots} is below the cost of one step ({per_step} shots)")
    if A is None:
        A = 0.1 * n_steps
    noisy = energy_function(state_fn, hamiltonian, shots_per_term, generator=rng)
    exact = energy_function(state_fn, hamiltonian)
    energies = [exact(params)]
    for k in progress(range(n_steps), f"{method} steps", leave=False):
        if method == "parameter-shift":
            params = params - lr * parameter_shift_gradient(noisy, params)
        else:
            a_k, c_k = spsa_gains(k, a, c, A)
            params = params - a_k * spsa_gradient(noisy, params, float(c_k), generator=rng)
        energies.append(exact(params))
    shots = np.arange(n_steps + 1) * per_step
    return VQEHistory(shots=shots, energies=np.array(energies), params=params)
