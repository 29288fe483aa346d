"""Batches of Optuna trials share their structural values, and a study
reopened from its journal asks what an uninterrupted one would."""

from mmul_jax import tuning
from mmul_jax.tuning import study as study_lib

SPACE = {"unlearn.learning_rate": tuning.Param(1e-5, 1e-2, "log"),
         "unlearn.num_steps": tuning.Param(scale="choice",
                                           choices=(50, 100, 200)),
         "method.npo.beta": tuning.Param(0.01, 1.0, "log", structural=True),
         "method.npo.retain_weight": tuning.Param(0.0, 1.0)}


def _run(path, batches, size=3):
  """Asks and tells `batches` batches; returns every trial's params."""
  for _ in range(batches):
    s = study_lib.open_study(path, "npo", seed=1, startup_trials=2,
                             batch=0)
    index = study_lib.next_batch_index(s)
    s = study_lib.open_study(path, "npo", seed=1, startup_trials=2,
                             batch=index)
    for t in study_lib.ask_batch(s, SPACE, size, index):
      study_lib.tell(s, t, (t.params["unlearn.learning_rate"],
                            t.params["method.npo.retain_weight"]),
                     {"row": {"x": 1}})
  s = study_lib.open_study(path, "npo", batch=0)
  return [t.params for t in s.get_trials()]


def test_a_batch_shares_its_structural_values(tmp_path):
  params = _run(str(tmp_path / "a.journal"), 4)
  assert len(params) == 12
  for b in range(4):
    batch = params[3 * b:3 * b + 3]
    for key in ("unlearn.num_steps", "method.npo.beta"):
      assert len({p[key] for p in batch}) == 1, (b, key)
    assert len({p["unlearn.learning_rate"] for p in batch}) == 3
  assert len({p["method.npo.beta"] for p in params}) == 4


def test_a_reopened_study_asks_what_an_uninterrupted_one_would(tmp_path):
  straight = _run(str(tmp_path / "s.journal"), 4)
  path = str(tmp_path / "r.journal")
  _run(path, 2)  # "killed" after two batches, then started again
  assert _run(path, 2) == straight
  s = study_lib.open_study(path, "npo")
  assert study_lib.counts(s) == {"COMPLETE": 12}
  assert s.get_trials()[0].user_attrs["row"] == {"x": 1}


def test_the_running_batch_is_found_whole(tmp_path):
  path = str(tmp_path / "k.journal")
  s = study_lib.open_study(path, "npo")
  batch = study_lib.ask_batch(s, SPACE, 3, 0)
  study_lib.tell(s, batch[0], (0.1, 0.2))  # told before the "kill"
  s = study_lib.open_study(path, "npo")
  again = study_lib.running_batch(s)
  assert [t.number for t in again] == [0, 1, 2]
  assert [t.state.name for t in again] == ["COMPLETE", "RUNNING",
                                           "RUNNING"]
  study_lib.tell(s, again[1], None)
  study_lib.tell(s, again[2], (0.3, 0.1))
  assert study_lib.running_batch(s) == []
  assert study_lib.counts(s) == {"COMPLETE": 2, "FAIL": 1}
