"""The Speech Commands (SUPERB KS) and UCF101 builders on fake copies of
the official files (tests/fixtures/, made by make_fake_datasets.py),
including WAV and MPEG-4 decoding."""

import io
import os
import tarfile
import wave

import ml_collections
import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.data import datasets
from mmul_jax.data.core import deletion
from mmul_jax.data.core import deletion_policy
from mmul_jax.data.downloaded import manual_tfds
from mmul_jax.data.core import modalities
from mmul_jax.data.core import pipeline
from mmul_jax.data.downloaded import signal_real_tfds as real

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures")


def _by_row(source):
  return {int(source[i]["row"]): source[i] for i in range(len(source))}


def test_speech_commands_follows_superb_ks(tmp_path):
  builder = manual_tfds.prepare(real.SpeechCommandsKs, str(tmp_path),
                                os.path.join(FIXTURES, "speech_commands"))
  train = _by_row(builder.as_data_source("train"))
  paths = [train[r]["path"].decode() for r in range(len(train))]
  # Sorted clips without the validation and test lists' ones, then two
  # 1 s slices of the 2.5 s of background noise.
  assert paths == ["bed/0a1b2c3d_nohash_0.wav", "bed/1b2c3d4e_nohash_0.wav",
                   "bed/2c3d4e5f_nohash_0.wav", "no/0a1b2c3d_nohash_0.wav",
                   "no/1b2c3d4e_nohash_0.wav", "yes/0a1b2c3d_nohash_0.wav",
                   "yes/2c3d4e5f_nohash_0.wav",
                   "_background_noise_/white.wav#0",
                   "_background_noise_/white.wav#1"]
  label = lambda r: real.SUPERB_KEYWORDS[train[r]["label"]]
  assert [label(r) for r in range(len(paths))] == (
      ["_unknown_"] * 3 + ["no"] * 2 + ["yes"] * 2 + ["_silence_"] * 2)
  audio = train[5]["audio"]
  assert audio.dtype == np.int16 and audio.shape == (1600,)
  # The decoded WAV: a 500 Hz tone at amplitude 8000.
  spectrum = np.abs(np.fft.rfft(audio.astype(float)))
  assert np.argmax(spectrum) * 16000 / 1600 == pytest.approx(500, abs=10)
  assert np.abs(audio).max() == pytest.approx(8000, abs=2)
  assert train[7]["audio"].shape == (16000,)
  test = builder.as_data_source("test")
  assert sorted(real.SUPERB_KEYWORDS[test[i]["label"]]
                for i in range(len(test))) == ["_silence_", "_unknown_",
                                               "yes"]
  # The pipeline pads the short clips to the run's length, scaled to
  # [-1, 1].
  spec = datasets.DATASETS["speech_commands"]
  x = spec.model_input(np.stack([spec.unimodal_input(
      train[5], pipeline.InputShape(audio_samples=16000))]), 0.5, 0.25)
  assert x.shape == (1, 16000) and x.dtype == np.float32
  assert np.all(x[0, 1600:] == 0) and np.abs(x).max() <= 1


def _wav(rate, frames: bytes) -> bytes:
  """A 16-bit mono WAV file's bytes."""
  buf = io.BytesIO()
  with wave.open(buf, "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(rate)
    w.writeframes(frames)
  return buf.getvalue()


def test_a_wav_of_another_rate_is_named(tmp_path):
  with pytest.raises(errors.DataError, match="x.wav: expected 16-bit mono "
                     "16000 Hz PCM, got 16-bit, 1 channel"):
    real.read_wav(_wav(8000, b"\0\0" * 10), "x.wav")
  with pytest.raises(errors.DataError, match="not a readable WAV"):
    real.read_wav(b"RIFF nonsense", "y.wav")


def test_ucf101_decodes_split_one_with_trainlist_rows(tmp_path):
  pytest.importorskip("av")
  manual = os.path.join(FIXTURES, "ucf101")
  builder = manual_tfds.prepare(real.Ucf101, str(tmp_path), manual)
  with open(os.path.join(manual, "ucfTrainTestlist", "trainlist01.txt")) as f:
    listed = [line.split()[0] for line in f if line.strip()]
  train = _by_row(builder.as_data_source("train"))
  assert [train[r]["path"].decode() for r in range(len(listed))] == listed
  for rec in train.values():
    video = np.asarray(rec["video"])  # a list of decoded frames
    # 16 frames, the shorter side 128 (24x32 -> 128x171).
    assert video.shape == (real.Ucf101.NUM_FRAMES, 128, 171, 3)
    assert video.dtype == np.uint8
    assert real.UCF101_LABELS[rec["label"]] == rec["path"].decode().split(
        "/")[0]
  # The bar moves: the first and the middle frame differ.
  middle = video[len(video) // 2].astype(int)
  assert np.abs(video[0].astype(int) - middle).mean() > 5
  assert len(builder.as_data_source("test")) == 3
  clip = modalities.fit_clip(video, 8, 32)
  assert clip.shape == (8, 32, 32, 3)


def test_ucf101_mubench_masks_map_through_rows(tmp_path):
  pytest.importorskip("av")
  builder = manual_tfds.prepare(real.Ucf101, str(tmp_path / "tfds"),
                                os.path.join(FIXTURES, "ucf101"))
  spec = datasets.DATASETS["ucf101"]
  train, _ = datasets.index_splits(builder, spec)
  rows = pipeline.read_column(train.source, "row")
  masks = tmp_path / "masks"
  masks.mkdir()
  (masks / "5.0.txt").write_text("0\n1\n0\n1\n0\n0\n")
  got = deletion.read_mubench_mask(str(masks), num_rows=len(train),
                                   ratio=5.0)
  np.testing.assert_array_equal(got, [1, 3])
  # deletion.mubench_file may name the masks' directory; mask row r is
  # the clip whose `row` (its trainlist01.txt line) is r.
  d = ml_collections.ConfigDict({"ratio": 5.0, "count": 0,
                                 "mubench_file": str(masks),
                                 "strategy": "uniform", "seed": 0})
  df = deletion_policy.deletion_set(d, train, "ucf101", str(tmp_path),
                                    example_rows=spec.example_rows)
  ids = {int(r): int(i) for r, i in zip(rows, train.image_ids)}
  assert sorted(df.forget_ids.tolist()) == sorted([ids[1], ids[3]])


def test_missing_or_wrong_files_stop_with_instructions(tmp_path):
  for name in ("speech_commands", "ucf101"):
    d = ml_collections.ConfigDict({"name": name, "data_dir": str(tmp_path),
                                   "manual_dir": str(tmp_path / "none")})
    with pytest.raises(errors.DataError, match="Download"):
      datasets.check_available(d)
  manual = tmp_path / "manual"
  manual.mkdir()
  with tarfile.open(manual / "speech_commands_v0.01.tar.gz", "w:gz"):
    pass
  (manual / "speech_commands_test_set_v0.01.tar.gz").write_bytes(b"x")
  with pytest.raises(errors.DataError, match="lacks validation_list.txt"):
    manual_tfds.prepare(real.SpeechCommandsKs, str(tmp_path / "tfds"),
                        str(manual))


def test_a_truncated_wav_is_named_with_its_archive(tmp_path):
  whole = _wav(16000, b"\1\0" * 100)
  assert real.read_wav(whole, "x.wav").shape == (100,)
  with pytest.raises(errors.DataError,
                     match=r"x.wav is truncated: its data chunk holds 150 "
                     r"bytes, its header says 100 samples \(200 bytes\); "
                     "download the archive again"):
    real.read_wav(whole[:-50], "x.wav")
  # The fixture's archives, one clip cut short in a copy.
  source = os.path.join(FIXTURES, "speech_commands")
  manual = tmp_path / "manual"
  manual.mkdir()
  name = "speech_commands_v0.01.tar.gz"
  cut = "./no/1b2c3d4e_nohash_0.wav"
  with tarfile.open(os.path.join(source, name)) as src, \
      tarfile.open(manual / name, "w:gz") as dst:
    for member in src:
      data = src.extractfile(member).read() if member.isfile() else None
      if member.name == cut:
        data = data[:len(data) // 2]
        member.size = len(data)
      dst.addfile(member, io.BytesIO(data) if data is not None else None)
  other = "speech_commands_test_set_v0.01.tar.gz"
  (manual / other).write_bytes(open(os.path.join(source, other), "rb").read())
  with pytest.raises(errors.DataError,
                     match=f"{manual / name}: no/1b2c3d4e_nohash_0.wav is "
                     "truncated: its data chunk holds"):
    manual_tfds.prepare(real.SpeechCommandsKs, str(tmp_path / "tfds"),
                        str(manual))
