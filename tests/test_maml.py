"""First-order MAML (tensorprog.experiments.maml) on the digits protocol.

References independent of the vectorized code under test: an explicit per-task first-order
MAML built from tensorprog.experiments.linear1's SGD (copies of W₁ per task), an explicit
linear model for the linear kernel, Monte Carlo for the arc-cosine kernels, and the
n^{-1/2} convergence of finite widths to the μP limit on the meta-training loop.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from tensorprog.errors import TensorProgError  # noqa: E402
from tensorprog.experiments import digits as dg  # noqa: E402
from tensorprog.experiments import linear1 as L1  # noqa: E402
from tensorprog.experiments import maml as M  # noqa: E402
from tensorprog.experiments._kernels import kernel  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return dg.load()


def test_protocol(data):
    """40 classes (10 digits × 4 rotations), disjoint meta-train/test digits, tasks of 5
    distinct classes with distinct support and query images."""
    assert data.X.shape == (4 * 1797, 64) and 0 <= data.X.min() and data.X.max() <= 1
    sp = dg.splits()
    assert len(sp["train"]) == len(sp["test"]) == 20 and not set(sp["train"]) & set(sp["test"])
    assert sorted(sp["tune_train"] + sp["val"]) == sorted(sp["train"])
    img = data.X[0].reshape(8, 8)
    rot = data.X[1797].reshape(8, 8)  # the first image rotated by 90°
    np.testing.assert_array_equal(rot, np.rot90(img))
    tb = dg.TaskSampler(data, sp["test"]).sample(np.random.default_rng(0), 20)
    for t in range(20):
        cls = data.y[tb.is_[t]]
        assert len(set(cls)) == 5 and set(cls) <= set(sp["test"])
        np.testing.assert_array_equal(cls, data.y[tb.iq[t]])
        assert not set(tb.is_[t]) & set(tb.iq[t])


def _explicit_fomaml(net, tasks, eps, steps, lr, clip):
    """Per task: copy the net, ``steps`` SGD steps on the support (mean cross-entropy), then
    the query gradient at the adapted copy; sum over tasks, clip, apply."""
    labels = np.arange(tasks.Xs.shape[1])
    total = None
    for t in range(len(tasks)):
        c = net.copy()
        for _ in range(steps):
            L1.sgd_step(c, tasks.Xs[t], labels, eps, loss="softmax", reduction="mean")
        g = L1.gradients(c, tasks.Xq[t], labels, "softmax", "mean")
        if total is None:
            total = g
        else:
            total.E += g.E
            total.O += g.O
            total.b += g.b
    L1.apply_update(net, total, lr, clip=clip)


@pytest.mark.parametrize("steps", [1, 2])
def test_vectorized_meta_step_equals_explicit_per_task_fomaml(data, steps):
    tasks = dg.TaskSampler(data, dg.splits()["train"]).sample(np.random.default_rng(1), 4)
    model = M.LinearMuP(64, 5, 24, 0.5, seed=3)
    ref = model.net.copy()
    for _ in range(3):
        model.meta_step(tasks, 0.4, steps, 0.3, 0.5)
        _explicit_fomaml(ref, tasks, 0.4, steps, 0.3, 0.5)
    for a, b in zip(model.net.params(), ref.params()):
        np.testing.assert_allclose(a, b, atol=1e-12)
    # meta-test adaptation (several steps) against explicit copies
    acc = model.evaluate(tasks, 0.4, 3)
    for t in range(len(tasks)):
        c = ref.copy()
        for _ in range(3):
            L1.sgd_step(c, tasks.Xs[t], np.arange(5), 0.4, loss="softmax", reduction="mean")
        F = L1.forward(c, tasks.Xq[t])[1]
        assert acc[t] == np.mean(F.argmax(axis=1) == np.arange(5))


def _rms(v):
    return float(np.sqrt(np.mean(np.square(v))))


def _explicit_feature_fomaml(phi, sampler, steps, batches, eps=0.4, lr=0.3, clip=0.5):
    """First-order MAML on the explicit model f(x) = W φ(x), W₀ = 0 (features fixed)."""
    W = None
    rng = np.random.default_rng(0)
    for _ in range(batches):
        tasks = sampler.sample(rng, 6)
        if W is None:
            W = np.zeros((5, phi(tasks.Xs[0]).shape[1]))
        G = np.zeros_like(W)
        for t in range(len(tasks)):
            Ps, Pq = phi(tasks.Xs[t]), phi(tasks.Xq[t])
            Wt = W.copy()
            for _ in range(steps):
                _, _, chi = M._softmax_chi((Ps @ Wt.T)[None])
                Wt -= eps * chi[0].T @ Ps
            _, _, chi = M._softmax_chi((Pq @ Wt.T)[None])
            G += chi[0].T @ Pq
        W -= lr * min(1.0, clip / np.linalg.norm(G)) * G
    return W


def _kernel_model(kind, sub, scale, steps, batches):
    classes = dg.splits()["train"]
    sampler = dg.TaskSampler(sub, classes)
    model = M.KernelMAML(kind, sub, np.flatnonzero(np.isin(sub.y, classes)), 5, scale)
    rng = np.random.default_rng(0)
    for _ in range(batches):
        model.meta_step(sampler.sample(rng, 6), 0.4, steps, 0.3, 0.5)
    return model, sampler


def test_linear_kernel_model_equals_an_explicit_linear_model(data):
    """The linear NNGP/NTK model as a kernel expansion equals first-order MAML on the explicit
    linear model f(x) = W φ(x), φ(x) = √s (x/√d, 1) (so φ·φ' = s(x·z/d + 1)), W₀ = 0."""
    sub = dg.Digits(data.X[::20], data.y[::20])
    s = 2.0
    model, sampler = _kernel_model("linear-gp", sub, s, 2, 4)

    def phi(X):
        return math.sqrt(s) * np.hstack([X / 8.0, np.ones((len(X), 1))])

    W = _explicit_feature_fomaml(phi, sampler, 2, 4)
    probe = np.arange(0, len(sub.X), 7)
    np.testing.assert_allclose(model._f(probe), phi(sub.X[probe]) @ W.T, atol=1e-12)
    assert np.abs(W).max() > 1e-3


def test_relu_gp_model_is_the_limit_of_frozen_random_relu_features(data):
    """The relu NNGP model is the infinite-width limit of a ReLU network whose features do not
    move (first layer frozen at its random draw, readout trained from 0): with
    φ_n(x) = √(s/n) relu(Wx/√d + b), first-order MAML on the readout approaches the kernel
    model's outputs with an RMS gap ∝ n^{-1/2}. With 8 seeds per width the fitted slope over a
    64× range has a standard error of ~0.07; accept [−0.8, −0.25]."""
    sub = dg.Digits(data.X[::20], data.y[::20])
    s = 2.0
    model, sampler = _kernel_model("relu-gp", sub, s, 1, 3)
    probe = np.arange(0, len(sub.X), 7)
    f_inf = model._f(probe)
    assert np.abs(f_inf).max() > 1e-2
    widths = np.array([64, 256, 1024, 4096])
    gaps = []
    for n in widths:
        outs = []
        for seed in range(8):
            r = np.random.default_rng(seed)
            Wf, b = r.standard_normal((64, int(n))), r.standard_normal(int(n))

            def phi(X, Wf=Wf, b=b, n=n):
                return math.sqrt(s / n) * np.maximum(X @ Wf / 8.0 + b, 0)

            W = _explicit_feature_fomaml(phi, sampler, 1, 3)
            outs.append(phi(sub.X[probe]) @ W.T - f_inf)
        gaps.append(_rms(outs))
    slope = np.polyfit(np.log(widths), np.log(gaps), 1)[0]
    assert -0.8 < slope < -0.25, (slope, gaps)


@pytest.mark.parametrize("kind", ["relu-gp", "relu-ntk"])
def test_arc_cosine_kernels_against_monte_carlo(kind):
    """E over u = w·x/√d + b (w ~ N(0, I), b ~ N(0, 1)) of relu(u)relu(v) (+ Σ·step(u)step(v)
    for the NTK), 400k samples; tolerance 5 Monte Carlo standard errors."""
    rng = np.random.default_rng(0)
    d = 8
    X = rng.standard_normal((3, d))
    K = kernel(kind, X, X)
    w, b = rng.standard_normal((400_000, d)), rng.standard_normal(400_000)
    U = w @ X.T / math.sqrt(d) + b[:, None]
    S = X @ X.T / d + 1
    for i in range(3):
        for j in range(3):
            v = np.maximum(U[:, i], 0) * np.maximum(U[:, j], 0)
            if kind == "relu-ntk":
                v = v + S[i, j] * (U[:, i] > 0) * (U[:, j] > 0)
            se = v.std() / math.sqrt(len(v))
            assert abs(v.mean() - K[i, j]) < 5 * se, (i, j, v.mean(), K[i, j], se)


def test_finite_widths_approach_the_limit_on_the_maml_loop(data):
    """Same task stream (6 meta-batches of 8 tasks, meta-lr 0.3, σ₂ = 1/4), widths 32…2048, 8
    seeds: the RMS gap of the meta-learned network's outputs on 20 probe images to the μP
    limit's falls like n^{-1/2} (fitted slope −1/2 ± ~0.1 with 8 seeds; accept [−0.75,
    −0.3]), and the first-layer Gram matrix moves Θ(1) away from its start (feature learning).
    A wrong limit (a random width-69 initialization) does not attract the finite widths: its
    gap flattens (measured 0.125, 0.090, 0.084 at n = 128, 512, 2048, where the right gap is
    0.091, 0.039, 0.021)."""
    cfg = M.MAMLConfig(task_batch=8)
    sampler = dg.TaskSampler(data, dg.splits()["train"])
    batches = [sampler.sample(np.random.default_rng(100 + k), 8) for k in range(6)]
    probe = data.X[::360]

    def train(model):
        for tb in batches:
            model.meta_step(tb, cfg.inner_lr, 1, 0.3, cfg.clip)
        return model.outputs(probe)

    lim = M.LinearMuP(64, 5, None, 0.25, 0)
    G0 = L1.gram(lim.net, probe)
    f_inf = train(lim)
    moved = np.linalg.norm(L1.gram(lim.net, probe) - G0) / np.linalg.norm(G0)
    assert moved > 0.02
    wrong = M.LinearMuP(64, 5, None, 0.25, 0)
    wrong.net = L1.sample_width(wrong.net, 69, 999)
    f_bad = train(wrong)
    widths = np.array([32, 128, 512, 2048])
    gaps, gbad = [], []
    for n in widths:
        outs = [train(M.LinearMuP(64, 5, int(n), 0.25, s)) for s in range(8)]
        gaps.append(_rms([o - f_inf for o in outs]))
        gbad.append(_rms([o - f_bad for o in outs]))
    slope = np.polyfit(np.log(widths), np.log(gaps), 1)[0]
    assert -0.75 < slope < -0.3, (slope, gaps)
    bad_slope = np.polyfit(np.log(widths[1:]), np.log(gbad[1:]), 1)[0]
    assert bad_slope > -0.25 and gbad[-1] > 3 * gaps[-1], (gbad, gaps)


def test_bad_model_names_are_refused():
    for bad in ("0", "wide", "-3", "relu"):
        with pytest.raises(TensorProgError, match="unknown model"):
            M.check_model(bad)
    assert M.check_model(" 08 ") == "8"


def test_cli_quick_run(tmp_path):
    out = tmp_path / "m"
    cmd = [sys.executable, "-m", "tensorprog", "maml", "--widths", "4,inf", "--kernels",
           "linear-gp", "--quick", "--batches", "4", "--tune-batches", "2", "--test-tasks",
           "10", "--seeds", "2", "--out", str(out), "--json", "--no-progress"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert list(res["models"]) == ["4", "inf", "linear-gp"]
    for m in res["models"].values():
        assert len(m["accuracy"]) == 2 and all(0 <= a <= 1 for a in m["accuracy"])
        assert m["grid"] and "val_accuracy" in m["grid"][0]
    assert json.loads((out / "results.json").read_text()) == res
    assert (out / "curves.png").stat().st_size > 1000
    assert "μP limit" in (out / "table.md").read_text()
    bad = subprocess.run(cmd[:4] + ["--widths", "2,x", "--out", str(out)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 1 and "unknown model 'x'" in bad.stderr
