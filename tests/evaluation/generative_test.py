"""The generative metrics against independent computations: ROUGE-L by a
longest-common-subsequence written here, the truth ratio and TOFU's
statistics by loops, forget quality against an exact permutation test,
the attack AUC against scikit-learn, Min-K%++ against a per-token loop,
and the memorisation scores on hand-made cases."""

import itertools
import zlib

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from mmul_jax import errors
from mmul_jax.evaluation import generative as gen


def _lcs(a, b):
  table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
  for i, x in enumerate(a):
    for j, y in enumerate(b):
      table[i + 1][j + 1] = (table[i][j] + 1 if x == y
                             else max(table[i][j + 1], table[i + 1][j]))
  return table[-1][-1]


def test_rouge_l_is_the_longest_common_subsequence():
  preds = ["the author was born in paris in 1950",
           "she wrote three novels about the sea", "nothing at all"]
  refs = ["the author was born in lyon in 1950",
          "she wrote novels about the sea and ships", "a b c"]
  got = gen.rouge(preds, refs)
  for i, (p, r) in enumerate(zip(preds, refs)):
    p, r = p.split(), r.split()
    lcs = _lcs(p, r)
    recall, precision = lcs / len(r), lcs / len(p)
    f1 = 0 if not lcs else 2 * recall * precision / (recall + precision)
    assert got["rougeL_recall"][i] == pytest.approx(recall)
    assert got["rougeL_f1"][i] == pytest.approx(f1)
  # Stemming on: inflections match.
  assert gen.rouge(["cats running"], ["cat runs"])["rouge1_f1"][0] == 1.0


def test_probabilities_and_truth_ratio_by_loops():
  rng = np.random.default_rng(0)
  lp = -rng.uniform(0.1, 3.0, (4, 6))
  mask = np.ones((4, 6), bool)
  mask[1, 4:] = False
  want = [np.exp(np.mean(lp[i][mask[i]])) for i in range(4)]
  np.testing.assert_allclose(gen.answer_probability(lp, mask), want)
  para, pert = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 3, (4, 5))
  geometric = [np.exp(-pert[i]).prod() ** (1 / 5) / np.exp(-para[i])
               for i in range(4)]
  arithmetic = [np.exp(-pert[i]).mean() / np.exp(-para[i])
                for i in range(4)]
  np.testing.assert_allclose(gen.truth_ratio(para, pert), geometric)
  np.testing.assert_allclose(
      gen.truth_ratio(para, pert, averaging="arithmetic"), arithmetic)
  with pytest.raises(errors.ConfigError, match="averaging 'median'"):
    gen.truth_ratio(para, pert, averaging="median")
  tr = np.array([0.5, 2.0, 1.0, 0.25])
  assert gen.truth_ratio_score(tr, "forget") == pytest.approx(
      (0.5 + 0.5 + 1.0 + 0.25) / 4)
  assert gen.truth_ratio_score(tr, "retain") == pytest.approx(
      (0.5 + 0 + 0 + 0.75) / 4)
  np.testing.assert_allclose(
      gen.normalised_probability(para, pert),
      [np.exp(-para[i]) / (np.exp(-para[i]) + np.exp(-pert[i]).sum())
       for i in range(4)])


def test_forget_quality_is_the_exact_two_sample_ks_p_value():
  a = np.array([0.1, 0.4, 0.35, 0.8, 0.2])
  b = np.array([0.5, 0.9, 0.7, 0.65, 0.3])

  def d(x, y):
    grid = np.concatenate([x, y])
    return max(abs(np.mean(x <= g) - np.mean(y <= g)) for g in grid)

  pooled, observed = np.concatenate([a, b]), d(a, b)
  splits = list(itertools.combinations(range(10), 5))
  extreme = sum(d(pooled[list(s)], np.delete(pooled, list(s))) >=
                observed - 1e-12 for s in splits)
  assert gen.forget_quality(a, b) == pytest.approx(extreme / len(splits))
  assert gen.forget_quality(a, a) == pytest.approx(1.0)


def test_model_utility_is_a_harmonic_mean():
  v = [0.9, 0.5, 0.6, 0.3, 0.8, 0.7, 0.4, 0.5, 0.9]
  assert gen.model_utility(v) == pytest.approx(len(v) / sum(1 / x
                                                             for x in v))
  assert gen.model_utility([0.5, 0.0, 0.9]) == 0.0
  assert gen.mubench_overall(0.4, 0.1) == pytest.approx(0.65)
  assert gen.mubench_overall(0.4, 0.1, 0.7) == pytest.approx(2.0 / 3)


def test_membership_attacks_by_hand():
  lp = np.log(np.array([[0.9, 0.1, 0.5, 0.5], [0.2, 0.2, 0.9, 0.01]]))
  mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
  np.testing.assert_allclose(gen.loss_attack(lp, mask),
                             [np.log([0.9, 0.1, 0.5]).mean(),
                              np.log([0.2, 0.2, 0.9, 0.01]).mean()])
  # k = 0.4: 1 of 3 tokens, 1 of 4 (at least one).
  np.testing.assert_allclose(gen.min_k_attack(lp, mask, 0.4),
                             [np.log(0.1), np.log(0.01)])
  np.testing.assert_allclose(gen.min_k_attack(lp, mask, 0.5),
                             [np.log(0.1), np.log([0.01, 0.2]).mean()])
  texts = ["abc abc abc", "the quick brown fox"]
  np.testing.assert_allclose(
      gen.zlib_attack(lp, mask, texts),
      gen.loss_attack(lp, mask) / [len(zlib.compress(t.encode()))
                                   for t in texts])
  ref = lp - 0.3
  np.testing.assert_allclose(gen.reference_attack(lp, mask, ref),
                             [0.3, 0.3])


def test_min_k_plus_plus_against_a_token_loop():
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(2, 5, 7))
  vocab = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  labels = rng.integers(0, 7, (2, 5))
  lp = np.take_along_axis(vocab, labels[..., None], -1)[..., 0]
  mask = np.ones((2, 5), bool)
  mean, var = gen.token_statistics(vocab)
  got = gen.min_k_plus_plus_attack(lp, mask, mean, var, k=0.4)
  for i in range(2):
    z = []
    for t in range(5):
      p = np.exp(vocab[i, t])
      mu = sum(p[v] * vocab[i, t, v] for v in range(7))
      sd = np.sqrt(sum(p[v] * (vocab[i, t, v] - mu) ** 2 for v in range(7)))
      z.append((lp[i, t] - mu) / sd)
    assert got[i] == pytest.approx(np.mean(sorted(z)[:2]))


def test_attack_auc_and_privleak():
  rng = np.random.default_rng(2)
  members, others = rng.normal(1, 1, 30), rng.normal(0, 1, 40)
  others[:3] = members[:3]  # ties
  want = roc_auc_score([1] * 30 + [0] * 40, np.concatenate([members,
                                                             others]))
  assert gen.attack_auc(members, others) == pytest.approx(want)
  # Under-forgetting: the model still tells members apart better than
  # the retrained model; MUSE's sign makes it negative.
  assert gen.privleak(0.8, 0.5) == pytest.approx(100 * (0.2 - 0.5) / 0.5)
  assert gen.privleak(0.5, 0.5) == 0.0


def test_memorisation_scores_by_hand():
  labels = np.array([[5, 6, 7, 8], [1, 2, 3, 0]])
  mask = np.array([[1, 1, 1, 1], [1, 1, 1, 0]], bool)
  preds = np.array([[9, 6, 7, 8], [1, 9, 9, 0]])
  np.testing.assert_allclose(gen.exact_memorization(preds, labels, mask),
                             [0.75, 1 / 3])
  # Row 0 matches from position 1: 1 - 1/4. Row 1: no suffix matches.
  np.testing.assert_allclose(gen.extraction_strength(preds, labels, mask),
                             [0.75, 0.0])
  np.testing.assert_allclose(
      gen.extraction_strength(labels, labels, mask), [1.0, 1.0])


def test_gradient_norm_attack_against_a_loop():
  import jax
  import jax.numpy as jnp
  rng = np.random.default_rng(3)
  params = {"w": jnp.asarray(rng.normal(size=(4, 3)), jnp.float32),
            "b": jnp.asarray(rng.normal(size=(3,)), jnp.float32)}
  batch = {"x": jnp.asarray(rng.normal(size=(5, 4)), jnp.float32),
           "y": jnp.asarray(rng.integers(0, 3, 5))}

  def loss(p, ex):
    logits = ex["x"] @ p["w"] + p["b"]
    return -jax.nn.log_softmax(logits)[ex["y"]]

  for order in (1, 2, np.inf):
    want = []
    for i in range(5):
      g = jax.grad(loss)(params, {k: v[i] for k, v in batch.items()})
      flat = np.concatenate([np.ravel(g["b"]), np.ravel(g["w"])])
      want.append(-np.linalg.norm(flat, ord=order))
    np.testing.assert_allclose(
        gen.gradient_norm_attack(loss, params, batch, order=order), want,
        rtol=1e-5)


def test_model_utility_reads_the_test_split_where_it_is_knowledge():
  """TOFU's model utility: Dr's three statistics, and the real-authors /
  world-facts test split's three when `utility_test` says so."""
  from scipy import stats as scipy_stats
  from mmul_jax.evaluation.evaluators import forward
  from mmul_jax.evaluation.evaluators import generation_metrics

  def outputs(p, rouge, tr, pn):
    n = len(p)
    o = {k: np.full(n, rouge) for k in generation_metrics.ROUGE}
    o.update(p_answer=np.asarray(p), exact_memorization=np.zeros(n),
             extraction_strength=np.zeros(n), mean_nll=-np.log(p),
             zlib=np.zeros(n), min_k=np.zeros(n),
             min_k_plus_plus=np.zeros(n), truth_ratio=np.asarray(tr),
             p_normalised=np.asarray(pn))
    return o

  sets = {"df": None, "dr": None, "test": None}
  out = {"df": outputs([0.9, 0.8], 0.9, [0.5, 0.5], [0.7, 0.7]),
         "dr": outputs([0.6, 0.8], 0.5, [0.2, np.nan], [0.6, np.nan]),
         "test": outputs([0.3, 0.5], 0.4, [0.5, 0.9], [0.4, 0.6])}
  for utility_test in (False, True):
    run = forward.Forward(kind="generation", sets=sets, outputs=out,
                          pair_scores={}, params=None, model=None,
                          options=forward.Options(utility_test=utility_test))
    m = generation_metrics.metrics(run)
    parts = [0.7, 0.5, 0.8]  # Dr: prob, ROUGE-L recall, 1 - TR (finite)
    if utility_test:
      parts += [0.5, 0.4, np.mean([0.5, 0.1])]
    assert m["model_utility"] == pytest.approx(scipy_stats.hmean(parts))


def test_image_conditioned_sets_are_scored_per_question_type():
  """Each question type's means of its own pairs, the multiple-choice
  accuracy of the pairs with options, the membership attacks on the
  persons' own pairs and the held-out general pairs in model utility."""
  import types
  from scipy import stats as scipy_stats
  from mmul_jax.evaluation.evaluators import forward
  from mmul_jax.evaluation.evaluators import generation_metrics

  kinds = np.array([0, 1, 1, 2, 3, 3])  # name, image x2, both, general x2

  def outputs(rouge, p, loss):
    n = len(kinds)
    o = {k: np.asarray(rouge, float) for k in generation_metrics.ROUGE}
    o.update(p_answer=np.asarray(p, float), exact_memorization=np.zeros(n),
             extraction_strength=np.zeros(n), mean_nll=np.asarray(loss),
             zlib=np.zeros(n), min_k=-np.asarray(loss),
             min_k_plus_plus=np.zeros(n), truth_ratio=np.full(n, 0.5),
             p_normalised=np.full(n, 0.6),
             mc_correct=np.array([1.0, 0.0, 1.0, np.nan, 1.0, 0.0]),
             generated=[f"g{i}" for i in range(n)])
    return o

  s = types.SimpleNamespace(question_type=kinds)
  rouge = [0.1, 0.2, 0.4, 0.8, 0.5, 0.7]
  out = {"df": outputs(rouge, [0.5] * 6, [1, 2, 3, 4, 9, 9]),
         "dr": outputs(rouge, [0.5] * 6, [1] * 6),
         "test": outputs(rouge, [0.5] * 6, [5, 6, 7, 8, 0, 0])}
  run = forward.Forward(kind="generation", sets=dict.fromkeys(out, s),
                        outputs=out, pair_scores={}, params=None,
                        model=None, options=forward.Options())
  m = generation_metrics.metrics(run)
  assert m["df"]["image"]["rougeL_recall"] == pytest.approx(30.0)
  assert m["df"]["both"]["rougeL_recall"] == pytest.approx(80.0)
  assert m["df"]["general"]["rougeL_recall"] == pytest.approx(60.0)
  assert m["df"]["image"]["mc_accuracy"] == pytest.approx(50.0)
  assert np.isnan(m["df"]["both"]["mc_accuracy"])  # no options there
  assert m["df"]["mc_accuracy"] == pytest.approx(60.0)  # 3 of 5
  # Every Df pair of a person is likelier than every test one, but the
  # general pairs (loss 9 vs 0) are left out: the attacks separate fully.
  assert m["mia"]["loss"] == pytest.approx(1.0)
  g = [0.6, 0.6, 0.5]  # test general: P normalised, ROUGE-L, 1 - TR
  dr = [0.5, np.mean(rouge), 0.5]
  assert m["model_utility"] == pytest.approx(scipy_stats.hmean(dr + g))
