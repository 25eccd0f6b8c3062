import numpy as np
import pytest

from sgdnoise.vqe import (CNOT, PauliHamiltonian, apply_cnot, apply_single_qubit_gate, basis_state, energy,
                          energy_estimator_variance, energy_function, exact_ground_energy, h2_hamiltonian,
                          h2_fci_energy, h2_omalley2016_hamiltonian, h2_sto3g_fci_energy,
                          hardware_efficient_n_params, hardware_efficient_state, one_parameter_state,
                          optimize_with_shot_budget, parameter_shift_gradient, parameter_shift_variance,
                          pauli_expectations, pauli_matrix, ry_matrix, sample_energy, sample_pauli_estimates,
                          shots_per_energy, spsa_gains, spsa_gradient, spsa_mean_squared_error)

H2 = h2_hamiltonian()


def se_of_variance(x, axis=0):
    """Standard error of the sample variance, from the sample's fourth central moment."""
    d = x - x.mean(axis)
    return np.sqrt(((d ** 4).mean(axis) - (d ** 2).mean(axis) ** 2) / x.shape[axis])
E0 = -1.137306  # published total ground energy, Ha (STO-3G, 0.735 A)


def test_h2_ground_energy_by_diagonalization():
    assert abs(exact_ground_energy(H2) - E0) < 1e-6
    assert H2.constant == pytest.approx(0.719969, abs=1e-6)
    electronic = np.linalg.eigvalsh(H2.matrix() - H2.constant * np.eye(4))[0]
    assert electronic == pytest.approx(-1.857275030, abs=1e-8)


def test_sto3g_fci_from_integrals_matches_the_qubit_hamiltonian_and_the_literature():
    # Independent of the Pauli coefficients: Gaussian integrals and a 2x2 CI.
    assert h2_sto3g_fci_energy(0.735) == pytest.approx(exact_ground_energy(H2), abs=1e-6)
    # Szabo & Ostlund (1996), section 4.3: full CI at R = 1.4 bohr, -1.1373 Ha (4 decimals printed)
    assert h2_sto3g_fci_energy(1.4 * 0.529177210903) == pytest.approx(-1.1373, abs=6e-5)
    # dissociation (20 A): two neutral STO-3G hydrogen atoms, 2 x (-0.466582) Ha (6 digits printed)
    assert h2_sto3g_fci_energy(20.0) == pytest.approx(2 * -0.466582, abs=2e-6)


def test_fci_basis_argument_sto3g_and_sto6g():
    # STO-3G unchanged through the basis argument; the wrapper is the same function
    assert h2_fci_energy(0.735, "STO-3G") == pytest.approx(-1.137306, abs=5e-7)
    assert h2_fci_energy(0.735) == h2_sto3g_fci_energy(0.735)
    # STO-6G at 0.75 A: -1.145742 Ha from an independent STO-nG integral + 16x16 Fock-space CI script
    assert h2_fci_energy(0.75, "STO-6G") == pytest.approx(-1.14574, abs=1e-5)
    # O'Malley et al. (2016) print an STO-6G Hamiltonian: its 4-decimal table agrees within the
    # Weyl rounding bound 6 x 5e-5 Ha, and lies far below STO-3G (different basis)
    e_table = exact_ground_energy(h2_omalley2016_hamiltonian())
    assert e_table == pytest.approx(h2_fci_energy(0.75, "STO-6G"), abs=3e-4)
    assert h2_fci_energy(0.75, "STO-3G") - e_table > 8e-3
    with pytest.raises(ValueError, match="basis"):
        h2_fci_energy(0.75, "6-31G")


def test_omalley_table_ground_energy_closed_form():
    # In the sector {|01>, |10>}: E = g0 - g3 - sqrt((g1 - g2)^2 + (g4 + g5)^2)
    g0, g1, g2, g3, g4, g5 = 0.2252, 0.3435, -0.4347, 0.5716, 0.0910, 0.0910
    closed = g0 - g3 - np.sqrt((g1 - g2) ** 2 + (g4 + g5) ** 2)
    assert exact_ground_energy(h2_omalley2016_hamiltonian()) == pytest.approx(closed, abs=1e-12)


def test_pauli_matrix_ordering_and_hermiticity():
    # "ZI" acts on qubit 1 = the most significant bit; kron order
    assert np.allclose(pauli_matrix("ZI"), np.kron(np.diag([1, -1]), np.eye(2)))
    m = H2.matrix()
    assert np.allclose(m, m.conj().T)


def test_gates_match_dense_matrices():
    rng = np.random.default_rng(0)
    psi = rng.standard_normal(8) + 1j * rng.standard_normal(8)
    u = ry_matrix(0.7)
    for q in range(3):
        dense = np.eye(1)
        for k in reversed(range(3)):
            dense = np.kron(dense, u if k == q else np.eye(2))
        assert np.allclose(apply_single_qubit_gate(psi, u, q), dense @ psi)
    # CNOT(control 1, target 0) on 2 qubits: |q1 q0> basis, dense = CNOT with control as high bit
    psi2 = psi[:4]
    assert np.allclose(apply_cnot(psi2, control=1, target=0), CNOT @ psi2)


def test_batched_gates_broadcast():
    thetas = np.linspace(0, 3, 5)
    out = apply_single_qubit_gate(np.broadcast_to(basis_state(0, 1), (5, 2)), ry_matrix(thetas), 0)
    assert np.allclose(out[:, 1].real, np.sin(thetas / 2))


def test_one_parameter_ansatz_reaches_ground_energy():
    thetas = np.linspace(-np.pi, np.pi, 20001)
    e = energy(one_parameter_state(thetas), H2)
    assert e.min() == pytest.approx(exact_ground_energy(H2), abs=1e-7)
    assert np.all(e >= exact_ground_energy(H2) - 1e-12)  # variational


def test_hardware_efficient_ansatz_reaches_ground_energy():
    from scipy.optimize import minimize
    f = energy_function(hardware_efficient_state, H2)
    res = minimize(lambda p: float(f(p)), np.full(hardware_efficient_n_params(2, 1), 0.1), method="BFGS")
    assert res.fun == pytest.approx(exact_ground_energy(H2), abs=1e-7)


def test_states_are_normalized():
    rng = np.random.default_rng(1)
    psi = hardware_efficient_state(rng.uniform(-3, 3, (10, 8)), n_qubits=2)
    assert np.allclose(np.linalg.norm(psi, axis=-1), 1)
    psi3 = hardware_efficient_state(rng.uniform(-3, 3, (4, 9)), n_qubits=3)
    assert psi3.shape == (4, 8) and np.allclose(np.linalg.norm(psi3, axis=-1), 1)


@pytest.mark.parametrize("state_fn,n", [(one_parameter_state, 1), (hardware_efficient_state, 6)])
def test_parameter_shift_equals_exact_derivative(state_fn, n):
    rng = np.random.default_rng(2)
    f = energy_function(state_fn, H2)
    for params in rng.uniform(-np.pi, np.pi, (5, n)):
        ps = parameter_shift_gradient(f, params)
        h = 1e-5
        fd = np.array([(f(params + h * e) - f(params - h * e)) / (2 * h) for e in np.eye(n)])
        assert np.allclose(ps, fd, atol=1e-8), (ps, fd)


@pytest.mark.parametrize("p", [-0.9, -0.2, 0.0, 0.5])
def test_pauli_estimator_variance_matches_theory(p):
    shots, reps = 50, 40_000
    est = sample_pauli_estimates(np.full(reps, p), shots, generator=np.random.default_rng(3))
    theory = (1 - p ** 2) / shots
    # mean within 5 standard errors; sample variance within 5 of its standard errors
    assert abs(est.mean() - p) < 5 * np.sqrt(theory / reps)
    assert abs(est.var() - theory) < 5 * se_of_variance(est)


def test_energy_estimator_is_unbiased_with_predicted_variance():
    state = one_parameter_state(np.array([0.4]))
    reps, shots = 20_000, 200
    est = sample_energy(np.broadcast_to(state, (reps, 4)), H2, shots, generator=np.random.default_rng(4))
    var = energy_estimator_variance(state, H2, shots)
    assert abs(est.mean() - energy(state, H2)) < 5 * np.sqrt(var / reps)
    assert abs(est.var(ddof=1) - var) < 5 * se_of_variance(est)
    assert shots_per_energy(H2, shots) == 4 * shots


def test_sampled_parameter_shift_gradient_is_unbiased_with_predicted_variance():
    rng = np.random.default_rng(5)
    theta = rng.uniform(-1, 1, 4)
    reps, shots = 5000, 100
    noisy = energy_function(hardware_efficient_state, H2, shots, generator=rng)
    g = parameter_shift_gradient(noisy, np.broadcast_to(theta, (reps, 4)))
    exact = parameter_shift_gradient(energy_function(hardware_efficient_state, H2), theta)
    var = parameter_shift_variance(hardware_efficient_state, H2, theta, shots)
    assert np.all(np.abs(g.mean(0) - exact) < 5 * np.sqrt(var / reps))
    assert np.all(np.abs(g.var(0, ddof=1) - var) < 5 * se_of_variance(g))


def test_spsa_mean_squared_error_matches_enumeration():
    rng = np.random.default_rng(6)
    theta = rng.uniform(-1, 1, 4)
    reps, shots, c = 20_000, 100, 0.2
    noisy = energy_function(hardware_efficient_state, H2, shots, generator=rng)
    g = spsa_gradient(noisy, np.broadcast_to(theta, (reps, 4)), c, generator=rng)
    exact = parameter_shift_gradient(energy_function(hardware_efficient_state, H2), theta)
    sq = ((g - exact) ** 2).sum(1)
    theory = spsa_mean_squared_error(hardware_efficient_state, H2, theta, c, shots)
    assert abs(sq.mean() - theory) < 5 * sq.std() / np.sqrt(reps)


def test_spsa_gains_follow_spall():
    # Worked by hand with alpha = 1, gamma = 1/2 at k = 0, 3, 8 (k counted from 0, A = 1):
    # a_k = 1/(k + 2) = 1/2, 1/5, 1/10 and c_k = 0.6/sqrt(k + 1) = 0.6, 0.3, 0.2. An A added to
    # c_k's denominator, k from 1, or the exponents swapped fail.
    a_k, c_k = spsa_gains(np.array([0, 3, 8]), a=1.0, c=0.6, A=1.0, alpha=1.0, gamma=0.5)
    assert np.allclose(a_k, [0.5, 0.2, 0.1], rtol=1e-14, atol=0)
    assert np.allclose(c_k, [0.6, 0.3, 0.2], rtol=1e-14, atol=0)
    # Spall's default exponents 0.602 and 0.101: with A = 0, going from k = 0 to k = 1 doubles
    # k + 1, so a_k falls by 2^-0.602 = 0.65884 and c_k by 2^-0.101 = 0.93239
    a_k, c_k = spsa_gains(np.array([0, 1]), a=1.0, c=0.5)
    assert a_k[0] == 1.0 and c_k[0] == 0.5
    assert a_k[1] == pytest.approx(0.658840, rel=1e-5) and c_k[1] / 0.5 == pytest.approx(0.932386, rel=1e-5)


@pytest.mark.parametrize("method", ["parameter-shift", "spsa"])
def test_optimizer_respects_budget_and_converges(method):
    rng = np.random.default_rng(7)
    params0 = np.broadcast_to(np.array([0.5, -0.3, 0.2, 0.4]), (8, 4))
    budget = 2_000_000
    hist = optimize_with_shot_budget(hardware_efficient_state, H2, params0, budget, 1000, method=method,
                                     lr=0.8, a=2.0, c=0.2, generator=rng)
    assert hist.shots[-1] <= budget and hist.energies.shape == (len(hist.shots), 8)
    err = hist.energies[-1] - exact_ground_energy(H2)
    assert np.all(err >= -1e-12) and np.median(err) < 5e-3


def test_seeded_runs_are_reproducible():
    run = lambda: optimize_with_shot_budget(one_parameter_state, H2, np.zeros((2, 1)), 40_000, 100,
                                            method="spsa", generator=np.random.default_rng(8)).energies
    assert np.array_equal(run(), run())


def test_bad_inputs():
    with pytest.raises(ValueError, match="shots"):
        sample_pauli_estimates(0.0, 0, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="expectations"):
        sample_pauli_estimates(1.5, 10, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="Pauli label"):
        pauli_matrix("XA")
    with pytest.raises(ValueError, match="same number of qubits"):
        PauliHamiltonian({"X": 1.0, "ZZ": 1.0})
    with pytest.raises(ValueError, match="method"):
        optimize_with_shot_budget(one_parameter_state, H2, np.zeros(1), 1000, 10, method="adam",
                                  generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="total_shots"):
        optimize_with_shot_budget(one_parameter_state, H2, np.zeros(1), 10, 10, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="c must"):
        spsa_gradient(energy_function(one_parameter_state, H2), np.zeros(1), 0.0, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="generator"):
        energy_function(one_parameter_state, H2, shots_per_term=10, generator=np.random.RandomState(0))
    with pytest.raises(ValueError, match="control and target"):
        apply_cnot(basis_state(0, 2), 1, 1)
    with pytest.raises(ValueError, match="params"):
        hardware_efficient_state(np.zeros(3), n_qubits=2)
    with pytest.raises(ValueError, match="bond_length_angstrom"):
        h2_sto3g_fci_energy(0.0)
    with pytest.raises(ValueError, match="params"):
        spsa_mean_squared_error(hardware_efficient_state, H2, np.zeros((2, 4)), 0.2, 100)


# A reference built by hand, sharing nothing with sgdnoise.vqe: the 2x2 Pauli matrices, their
# Kronecker products (leftmost letter = qubit 1 = high bit of the index), the gates as dense
# 4x4 matrices, and numpy's eigvalsh. (Replaces an optional qiskit cross-check that never ran:
# qiskit is not pinned in requirements.txt.)
_P = {"I": np.eye(2), "X": np.array([[0.0, 1.0], [1.0, 0.0]]), "Y": np.array([[0.0, -1j], [1j, 0.0]]),
      "Z": np.diag([1.0, -1.0])}


def _dense_hamiltonian(terms, constant):
    return sum(c * np.kron(_P[a], _P[b]) for (a, b), c in terms.items()) + constant * np.eye(4)


def _dense_ry(t):
    return np.array([[np.cos(t / 2), -np.sin(t / 2)], [np.sin(t / 2), np.cos(t / 2)]])


# CNOT with control qubit 0 (low bit) and target qubit 1: |q1 q0> = |01> <-> |11>, i.e. index 1 <-> 3
_CNOT_01 = np.eye(4)[[0, 3, 2, 1]]


def test_energies_against_a_hand_built_hamiltonian_matrix():
    Hd = _dense_hamiltonian(H2.terms, H2.constant)
    assert np.allclose(H2.matrix(), Hd, atol=1e-15)
    assert exact_ground_energy(H2) == pytest.approx(np.linalg.eigvalsh(Hd)[0], abs=1e-12)
    rng = np.random.default_rng(9)
    for params in rng.uniform(-np.pi, np.pi, (5, 4)):
        # the two-qubit hardware-efficient circuit as dense matrices: Ry layer, CNOT 0 -> 1, Ry layer
        # (qubit 0 first within a layer: kron(Ry(q1), Ry(q0)))
        U = np.kron(_dense_ry(params[3]), _dense_ry(params[2])) @ _CNOT_01 @ np.kron(_dense_ry(params[1]),
                                                                                  _dense_ry(params[0]))
        psi = U[:, 0]
        assert np.allclose(hardware_efficient_state(params), psi, atol=1e-14)
        assert float(energy(psi, H2)) == pytest.approx(float((psi.conj() @ Hd @ psi).real), abs=1e-14)
        labels = ["XY", "ZX", "YY"]
        ref = [float((psi.conj() @ np.kron(_P[a], _P[b]) @ psi).real) for a, b in labels]
        assert np.allclose(pauli_expectations(psi, labels), ref, atol=1e-14)
    # a Hamiltonian with Y terms, on complex states (for real states a single Y has expectation 0,
    # and the spectrum of H and of its complex conjugate agree, so only these catch a sign of Y)
    terms = {"XY": 0.3, "YX": -0.7, "ZI": 0.2, "IY": 0.5, "YZ": 0.4}
    h = PauliHamiltonian(terms, 0.1)
    hd = _dense_hamiltonian(terms, 0.1)
    assert exact_ground_energy(h) == pytest.approx(np.linalg.eigvalsh(hd)[0], abs=1e-12)
    for psi in rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4)):
        psi = psi / np.linalg.norm(psi)
        assert float(energy(psi, h)) == pytest.approx(float((psi.conj() @ hd @ psi).real), abs=1e-14)
        ref = [float((psi.conj() @ np.kron(_P[a], _P[b]) @ psi).real) for a, b in terms]
        assert np.allclose(pauli_expectations(psi, list(terms)), ref, atol=1e-14)
