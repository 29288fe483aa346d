"""What `shadow.rescore` refuses in a score file: each bad file is one
`DataError` naming the file and the array, before any metric is computed;
a good file of the same shape rescores."""

import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.evaluation import score_files
from mmul_jax.unlearn import shadow

K, UNITS, PAIRS, D = 3, 4, 8, 5


def _scores(k=K, model_axis=True):
  """A retrieval shadow run's scores: per model and set, (K, N) scalars
  and (K, N, D) vectors; Dr holds 5 times Df (eval.auc_num_samples = 5)."""
  rng = np.random.default_rng(0)
  out = {}
  for m in ("original", "retrained", "finetune"):
    out[m] = {}
    for s, times in (("df", 1), ("dr", 5), ("test", 2)):
      u, n = UNITS * times, PAIRS * times
      sets = {"image": rng.normal(size=(k, u, D)),
              "text": rng.normal(size=(k, n, D)),
              "cosine": rng.normal(size=(k, n)),
              "match": rng.uniform(size=(k, n)),
              "fusion": rng.normal(size=(k, n, D)).astype(np.float32),
              "caption_owner": np.tile(np.arange(n) // 2, (k, 1))}
      out[m][s] = (sets if model_axis else
                   {name: a[0] for name, a in sets.items()})
  return out


def _save(tmp_path, scores, task="retrieval"):
  path = str(tmp_path / "scores.npz")
  score_files.save(path, scores, task=task)
  return path


def test_a_good_file_rescores(tmp_path):
  audited, table = shadow.rescore(_save(tmp_path, _scores()))
  assert set(audited) == {"original", "retrained", "finetune"}
  assert 0 <= audited["finetune"]["cosine"]["ulira"]["auc"] <= 1
  assert "| pair cosine |" in table


def _drop(s):
  del s["finetune"]["dr"]["match"]


def _nan(s):
  s["retrained"]["df"]["cosine"][1, 2] = np.nan


def _inf_vector(s):
  s["finetune"]["test"]["fusion"][0, 0, 0] = np.inf


def _strings(s):
  s["original"]["test"]["match"] = np.array(["a"] * PAIRS)


def _fewer_examples(s):
  s["finetune"]["df"]["cosine"] = s["finetune"]["df"]["cosine"][:, :-1]


def _more_models(s):
  s["finetune"]["df"]["text"] = np.concatenate(
      [s["finetune"]["df"]["text"]] * 2)


def _no_retrained(s):
  del s["retrained"]


def _empty_df(s):
  for m in s:
    s[m]["df"]["cosine"] = s[m]["df"]["cosine"][:, :0]


# (how the file is spoiled, words the error must contain).
CASES = {
    "array_removed": (_drop, ("'finetune/dr/match'", "matching head")),
    "nan": (_nan, ("'retrained/df/cosine'", "NaN or infinite",
                   "index (1, 2)")),
    "inf_in_a_vector": (_inf_vector, ("'finetune/test/fusion'",
                                      "NaN or infinite")),
    "string_array": (_strings, ("'original/test/match'", "<U1",
                                "not numbers")),
    "fewer_examples_than_the_others": (
        _fewer_examples, ("'finetune/df/cosine'", "shape (3, 7)",
                          "'original/df/cosine'", "(3, 8)")),
    "more_models_than_the_others": (
        _more_models, ("'finetune/df/text'", "6 models", "3")),
    "no_retrained_models": (_no_retrained, ("'retrained'",)),
    "no_deleted_examples": (_empty_df, ("'original/df/cosine'",
                                        "no examples")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_score_file_is_one_error_naming_file_and_array(tmp_path,
                                                             case):
  spoil, needles = CASES[case]
  scores = _scores()
  spoil(scores)
  path = _save(tmp_path, scores)
  with pytest.raises(errors.DataError) as e:
    shadow.rescore(path)
  text = str(e.value)
  assert "\n" not in text and path in text
  for needle in needles:
    assert needle in text, (needle, text)


def test_a_file_of_another_task_kind_says_which_it_fits(tmp_path):
  path = _save(tmp_path, _scores(), task="classification")
  with pytest.raises(errors.DataError,
                     match=r"no array 'original/df/logits'.*classification"
                     r".*fit a graph_text or retrieval task"):
    shadow.rescore(path)
  path = _save(tmp_path, _scores(), task="speech")
  with pytest.raises(errors.DataError, match="task 'speech'"):
    shadow.rescore(path)


def test_a_single_runs_file_is_named_as_such(tmp_path):
  path = _save(tmp_path, _scores(model_axis=False))
  with pytest.raises(errors.DataError,
                     match=r"'original/df/image' has shape \(4, 5\).*"
                     "scripts/unlearn.py.*scripts/shadow.py"):
    shadow.rescore(path)


def test_too_few_models_for_ulira(tmp_path):
  with pytest.raises(errors.DataError, match="2 models.*at least 3"):
    shadow.rescore(_save(tmp_path, _scores(k=2)))


def test_too_few_dr_examples_names_rescores_own_flag(tmp_path):
  path = _save(tmp_path, _scores())
  with pytest.raises(errors.ConfigError) as e:
    shadow.rescore(path, auc_num_samples=6)
  text = str(e.value)
  assert "--auc_num_samples=6" in text and "--auc_num_samples=5" in text
  assert "eval.auc_num_samples" not in text
  with pytest.raises(errors.ConfigError, match="at least 1"):
    shadow.rescore(path, auc_num_samples=0)


def test_load_refuses_keys_and_task_names_it_did_not_write(tmp_path):
  path = str(tmp_path / "scores.npz")
  np.savez(path, __task__=np.asarray("retrieval"), loose=np.zeros(3))
  with pytest.raises(errors.DataError, match="'loose'.*model/set/name"):
    score_files.load(path)
  np.savez(path, __task__=np.zeros(2), **{"original/df/cosine": np.zeros(3)})
  with pytest.raises(errors.DataError, match="task name"):
    score_files.load(path)
