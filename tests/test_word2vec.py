"""Word2Vec pieces against hand values: text cleaning, vocabulary tables, one SGD update of the
μP limit and of a finite width, 3CosAdd on a hand-made embedding."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from tensorprog.errors import TensorProgError  # noqa: E402
from tensorprog.experiments.w2v_corpus import (  # noqa: E402
    build_vocab,
    clean_wiki_markup,
    encode,
    read_sentences,
    wiki_articles,
)
from tensorprog.experiments.w2v_eval import Question, analogy_accuracy, load_questions  # noqa: E402
from tensorprog.experiments.w2v_train import (  # noqa: E402
    TrainConfig,
    _train_sentences,
    init_state,
)

# ----------------------------------------------------------------------------- cleaning


@pytest.mark.parametrize(
    "wiki, words",
    [
        ("Hello, World!", "hello world"),
        ("In 1984 it cost $25.", "in one nine eight four it cost two five"),
        ("[[Paris|the capital]] of [[France]]", "the capital of france"),
        ("a&lt;ref name=x&gt;Smith 2001&lt;/ref&gt; b", "a b"),
        ("a&lt;br /&gt;b", "ab"),  # a tag joins, as in wikifil.pl
        ("x {{Infobox|name={{lang|fr|Y}}|z=1}} y", "x y"),  # nested templates go entirely
        ("[[Image:Cat.jpg|thumb|left|200px|A small cat]] sat", "a small cat sat"),
        ("[[Category:Greek letters|Alpha]]", "greek letters"),
        ("[[de:Alpha]] end", "end"),
        ("see [http://example.com/x the site] now", "see the site now"),
        ("caf\u00e9 na\u00efve &amp;nbsp; Rock&amp;Roll", "caf na ve rock roll"),
        ("{| class=wikitable\n| cell |} after", "after"),
    ],
)
def test_clean_wiki_markup_hand_examples(wiki: str, words: str) -> None:
    """Each expected output applies the wikifil.pl rules by hand: entities decoded, references
    and tags dropped, link targets dropped but link text kept, templates/tables dropped,
    lowercase, digits spelled, any other character a word break."""
    assert clean_wiki_markup(wiki) == words


def test_wiki_articles_skip_redirects_and_markup() -> None:
    xml = (
        "<mediawiki><page><title>A</title><text xml:space=\"preserve\">#REDIRECT [[B]]</text>"
        "</page><page><title>B</title><text xml:space=\"preserve\">B is 2 [[c|C]]."
        "</text></page></mediawiki>"
    )
    assert list(wiki_articles(xml)) == ["b is two c"]


def test_plain_text_corpus_is_one_sentence_per_line(tmp_path) -> None:
    p = tmp_path / "c.txt"
    p.write_text("the cat sat\n\n  the dog  ran \n")
    assert read_sentences(p) == [["the", "cat", "sat"], ["the", "dog", "ran"]]
    with pytest.raises(TensorProgError, match="not found"):
        read_sentences(tmp_path / "missing.txt")


# ----------------------------------------------------------------------------- tables


def test_vocab_counts_order_and_min_count() -> None:
    """Counts by hand: a 4, b 2, c 3, d 1 → kept at min-count 2: a, c, b (by count)."""
    v = build_vocab([["a", "b", "a", "c"], ["c", "a", "d", "b", "c", "a"]], 2)
    assert v.words == ("a", "c", "b")
    assert v.counts.tolist() == [4, 3, 2]
    assert v.total == 9
    enc = encode([["a", "d", "b"], ["c"]], v)
    assert enc.tokens.tolist() == [0, 2, 1] and enc.starts.tolist() == [0, 2, 3]


def test_subsampling_keep_probability_hand_values() -> None:
    """word2vec.c: keep(w) = (sqrt(c/(sT)) + 1)·sT/c. Counts 900, 90, 10 (T = 1000), s = 0.01:
    sT = 10, so keep = (sqrt(90) + 1)/90 = 0.116524..., (sqrt(9) + 1)/9 = 4/9, and the rare word
    (c = sT) gets (1 + 1)·1 = 2 → capped at 1."""
    v = build_vocab([["x"] * 900 + ["y"] * 90 + ["z"] * 10], 1)
    keep = v.keep_probabilities(0.01)
    assert keep == pytest.approx([(90**0.5 + 1) / 90, 4 / 9, 1.0], rel=1e-12)
    assert v.keep_probabilities(0).tolist() == [1.0, 1.0, 1.0]


def test_unigram_power_table_hand_values() -> None:
    """Counts 16, 1 with power 3/4: weights 8 and 1, so P = 8/9, 1/9 (cdf 8/9, 1)."""
    v = build_vocab([["a"] * 16 + ["b"]], 1)
    assert v.negative_cdf() == pytest.approx([8 / 9, 1.0], rel=1e-12)


# ----------------------------------------------------------------------------- one SGD update


def _example_loss(E, O, centre, context, negatives) -> float:
    """TP4 Eq. 34 for one example (as a quantity to minimise): h = mean of the context rows,
    -log σ(O[centre]·h) - Σ_neg log σ(-O[neg]·h)."""
    h = E[context].mean(axis=0)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    return -np.log(sig(O[centre] @ h)) - sum(np.log(sig(-(O[t] @ h))) for t in negatives)


def _num_grad(fun, X, eps=1e-6):
    g = np.zeros_like(X)
    for idx in np.ndindex(X.shape):
        old = X[idx]
        X[idx] = old + eps
        up = fun()
        X[idx] = old - eps
        down = fun()
        X[idx] = old
        g[idx] = (up - down) / (2 * eps)
    return g


def _reference_sentence(E, O, sentence, negative_word, lr, wd):
    """Plain SGD, example by example, with gradients by central finite differences (independent
    of the compiled loop): window 1 (every centre's context = its neighbours), one negative,
    weight decay (1 − lr·wd) applied to the touched rows only before the gradient step."""
    E, O = E.copy(), O.copy()
    for i, centre in enumerate(sentence):
        context = [sentence[j] for j in (i - 1, i + 1) if 0 <= j < len(sentence)]
        negs = [negative_word] if negative_word != centre else []
        loss = lambda c=centre, J=context, N=negs: _example_loss(E, O, c, J, N)  # noqa: E731
        gE = _num_grad(loss, E)
        gO = _num_grad(loss, O)
        for t in {centre, *negs}:
            O[t] = (1 - lr * wd) * O[t] - lr * gO[t]
        # a context word listed twice is decayed twice, its gradient already counts both
        for j in context:
            E[j] = (1 - lr * wd) * E[j]
        for j in set(context):
            E[j] = E[j] - lr * gE[j]
    return E, O


@pytest.mark.parametrize("kind, width", [("limit", None), ("mup", 3)])
def test_sgd_updates_match_finite_difference_reference(kind: str, width: int | None) -> None:
    """Six examples of the compiled loop (window 1, negative always word 2 through a one-point
    negative distribution, no subsampling) equal plain SGD with numerical gradients of TP4
    Eq. 34 — for the limit (V = 4, E₀ = I, O₀ = 0) and width 3. O₀ is made nonzero so the very
    first step already moves E; lr 0.3, weight decay 0.1."""
    V, lr, wd = 4, 0.3, 0.1
    E, O, m = init_state(V, width, kind=kind, seed=3, dtype=np.float64)
    O += np.random.default_rng(7).normal(0, 0.5, O.shape)
    sentence = [0, 1, 3, 2, 1, 1]
    ref_E, ref_O = _reference_sentence(E, O, sentence, 2, lr, wd)
    tokens = np.array(sentence, np.int32)
    starts = np.array([0, len(sentence)], np.int64)
    cdf = np.array([0.0, 0.0, 1.0, 1.0])  # every negative draw is word 2
    state = np.array([12345], np.uint64)
    stats = np.zeros(3)
    _train_sentences(tokens, starts, 0, 1, np.ones(V), cdf, E, O, 1, 1, lr, 1e9, 0, wd, m,
                     state, stats)  # fmt: skip
    assert stats[2] == len(sentence)
    np.testing.assert_allclose(E, ref_E, atol=1e-7)
    np.testing.assert_allclose(O, ref_O, atol=1e-7)


def test_train_config_validation() -> None:
    with pytest.raises(TensorProgError, match="window"):
        TrainConfig(window=0)
    with pytest.raises(TensorProgError):
        TrainConfig(lr=-1.0)


# ----------------------------------------------------------------------------- 3CosAdd

WORDS = ("king", "queen", "man", "woman", "apple", "walk", "walked", "run", "ran")


def _hand_embedding() -> np.ndarray:
    """Axes: royalty, gender, fruit, past tense, run-ness; rows chosen so that 3CosAdd answers
    man:woman::king:queen and run:ran::walk:walked (worked out in the test)."""
    return np.array([
        [1, 0, 0, 0, 0],  # king
        [1, 1, 0, 0, 0],  # queen
        [0, 0, 0, 0, 0.1],  # man (a little 'run' so it is not the zero vector)
        [0, 1, 0, 0, 0.1],  # woman
        [0, 0, 1, 0, 0],  # apple
        [0, 0, 0, 0, 0],  # walk (zero row: stays zero after normalisation)
        [0, 0, 0, 1, 0],  # walked
        [0, 0, 0, 0, 1],  # run
        [0, 0, 0, 1, 1],  # ran
    ], float)  # fmt: skip


def test_three_cos_add_hand_embedding() -> None:
    """Scores on normalised rows; the question words are excluded (for man:woman::king:? the
    raw best is 'queen' and also 'woman' itself scores high — it must not be chosen)."""
    E = _hand_embedding()
    qs = [
        Question("family", "man", "woman", "king", "queen", 1),
        Question("gram7-past-tense", "run", "ran", "walk", "walked", 2),
        Question("family", "king", "queen", "man", "apple", 3),  # wrong by construction
        Question("family", "king", "queen", "prince", "princess", 4),  # OOV: skipped
    ]
    r = analogy_accuracy(E, WORDS, qs)
    assert (r["total"], r["seen"]) == (4, 3)
    # q1: target ∝ woman/|woman| - man/|man| + king has best cosine with queen
    # q2: ran/√2 - run + 0 = (0,0,0,.707,-.293): walked scores .707, ran excluded → walked
    # q3: queen/√2 - king + man/|man| = (-.29, .71, 0, 0, 1): 'run' scores 1 > woman .80,
    #     so the (deliberately wrong) expected 'apple' is missed
    assert r["correct"] == pytest.approx(2.0)
    assert r["semantic"] == pytest.approx(1 / 2) and r["syntactic"] == pytest.approx(1.0)
    assert r["accuracy"] == pytest.approx(2 / 3)


def test_three_cos_add_orthonormal_features_score_chance() -> None:
    """Frozen orthonormal features (the NTK/GP limit's): every non-question word scores 0, a
    V−3-way tie, so each question counts exactly 1/(V − 3) (TP4 §9.3)."""
    V = len(WORDS)
    qs = [Question("family", "man", "woman", "king", "queen", 1),
          Question("gram7-past-tense", "run", "ran", "walk", "walked", 2)]  # fmt: skip
    r = analogy_accuracy(np.eye(V), WORDS, qs)
    assert r["accuracy"] == pytest.approx(1 / (V - 3), rel=1e-12)
    # the same rows with a zero column added take the general (matrix product) path
    r2 = analogy_accuracy(np.hstack([np.eye(V), np.zeros((V, 1))]), WORDS, qs)
    assert r2["accuracy"] == pytest.approx(1 / (V - 3), rel=1e-12)


def test_load_questions_errors_name_the_line(tmp_path) -> None:
    p = tmp_path / "q.txt"
    p.write_text(": family\nKing Queen Man Woman\nbad line\n")
    with pytest.raises(TensorProgError, match=r"q.txt:3:1"):
        load_questions(p)
    p.write_text(": family\nKing Queen Man Woman\n: gram1-x\na b c d\n")
    qs = load_questions(p)
    assert [(q.a, q.semantic) for q in qs] == [("king", True), ("a", False)]


def test_limit_memory_guard_and_width_parsing() -> None:
    """The limit's two V×V float32 blocks: 2·V²·4 bytes (V = 8932 → 638,277,632); a vocabulary
    whose blocks exceed half the RAM is refused with a hint instead of running out of memory."""
    from tensorprog.experiments.word2vec import check_limit_memory, parse_widths

    assert check_limit_memory(8932) == 2 * 8932 * 8932 * 4
    with pytest.raises(TensorProgError, match="--min-count"):
        check_limit_memory(10**7)
    assert parse_widths("1024, inf,64,64") == [64, 1024, "inf"]
