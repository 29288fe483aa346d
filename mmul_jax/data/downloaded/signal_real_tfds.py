"""TFDS builders for MU-Bench's speech and video datasets, from the official
files the user downloads by hand (`data.manual_dir`), written as
array_record and read without TensorFlow:

* **Speech Commands, SUPERB KS** (`speech_commands_v0.01.tar.gz` and
  `speech_commands_test_set_v0.01.tar.gz`): 16 kHz int16 clips, the ten
  keywords, `_unknown_` (every other word) and `_silence_`. Train is every
  clip of the main archive in neither `validation_list.txt` nor
  `testing_list.txt`, plus 1 s slices of `_background_noise_` as silence,
  SUPERB's protocol; test is the separate test-set archive, which labels
  its folders `_silence_` and `_unknown_` itself. WAVs are read with the
  standard library.
* **UCF101** (the clips extracted from `UCF101.rar` and the official
  split lists): split 1, `trainlist01.txt` (9,537 clips) and
  `testlist01.txt`; each clip kept as `frames` evenly spaced frames, the
  shorter side resized to `frame_size`, JPEG-encoded (Pillow). Decoding
  the .avi files needs PyAV (`pip install 'mmul_jax[video]'`).

TFDS's catalogue `speech_commands` and `ucf101` need TensorFlow (its Audio
and Video features) and download at build time; these read the archives
from disk. Records hold the input, `label`, `example_id`, `path` and
`row`: the clip's row in MU-Bench's order, the line of `trainlist01.txt`
for UCF101 (MU-Bench's per-clip masks count those lines) and, for Speech
Commands, the clips' sorted paths then the silence slices (MU-Bench's
copy, SUPERB KS through Hugging Face, was not available offline to check
that order against).
"""

from __future__ import annotations

import io
import os
import wave

import numpy as np
import PIL.Image
import tensorflow_datasets as tfds

from mmul_jax import errors
from mmul_jax.data.core import spec
from mmul_jax.data.downloaded import manual_tfds
from mmul_jax.data.generated import signal_tasks
from mmul_jax.data.downloaded import unimodal_real_tfds

SPEECH_RATE = 16000
SUPERB_KEYWORDS = signal_tasks.KEYWORDS  # the ten words, silence, unknown

# UCF101's classes in label order (classInd.txt; the builder checks it).
UCF101_LABELS = tuple("""
    ApplyEyeMakeup ApplyLipstick Archery BabyCrawling BalanceBeam
    BandMarching BaseballPitch Basketball BasketballDunk BenchPress Biking
    Billiards BlowDryHair BlowingCandles BodyWeightSquats Bowling
    BoxingPunchingBag BoxingSpeedBag BreastStroke BrushingTeeth CleanAndJerk
    CliffDiving CricketBowling CricketShot CuttingInKitchen Diving Drumming
    Fencing FieldHockeyPenalty FloorGymnastics FrisbeeCatch FrontCrawl
    GolfSwing Haircut Hammering HammerThrow HandstandPushups
    HandstandWalking HeadMassage HighJump HorseRace HorseRiding HulaHoop
    IceDancing JavelinThrow JugglingBalls JumpingJack JumpRope Kayaking
    Knitting LongJump Lunges MilitaryParade Mixing MoppingFloor Nunchucks
    ParallelBars PizzaTossing PlayingCello PlayingDaf PlayingDhol
    PlayingFlute PlayingGuitar PlayingPiano PlayingSitar PlayingTabla
    PlayingViolin PoleVault PommelHorse PullUps Punch PushUps Rafting
    RockClimbingIndoor RopeClimbing Rowing SalsaSpin ShavingBeard Shotput
    SkateBoarding Skiing Skijet SkyDiving SoccerJuggling SoccerPenalty
    StillRings SumoWrestling Surfing Swing TableTennisShot TaiChi
    TennisSwing ThrowDiscus TrampolineJumping Typing UnevenBars
    VolleyballSpiking WalkingWithDog WallPushups WritingOnBoard YoYo""".split())

_SPEECH_INSTRUCTIONS = """\
Download Speech Commands v0.01 and its test set into the manual directory
(data.manual_dir), unchanged:
  http://download.tensorflow.org/data/speech_commands_v0.01.tar.gz
  http://download.tensorflow.org/data/speech_commands_test_set_v0.01.tar.gz
  -> <manual_dir>/speech_commands_v0.01.tar.gz,
     <manual_dir>/speech_commands_test_set_v0.01.tar.gz
"""

_UCF_INSTRUCTIONS = """\
Download UCF101 (https://www.crcv.ucf.edu/data/UCF101.php) into the manual
directory (data.manual_dir) and extract both archives there:
  UCF101.rar -> <manual_dir>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi
  UCF101TrainTestSplits-RecognitionTask.zip
      -> <manual_dir>/ucfTrainTestlist/classInd.txt, trainlist01.txt,
         testlist01.txt
Decoding the clips needs PyAV: pip install 'mmul_jax[video]'
"""


class _Clips(unimodal_real_tfds.ExampleBuilder, skip_registration=True):
  """One record per clip, with its `path` in the download."""

  DESCRIPTION = __doc__

  def _extra_features(self) -> dict:
    return {"path": tfds.features.Text()}

  def _generate_examples(self, split: str, rows):
    yield from self._records(split, rows)


def read_wav(data: bytes, where: str, rate: int = SPEECH_RATE,
             remedy: str = "download the archive again") -> np.ndarray:
  """16-bit mono PCM at `rate` Hz -> int16 samples; anything else is a
  `DataError` naming the file (and `remedy` where the file is damaged)."""
  try:
    with wave.open(io.BytesIO(data)) as w:
      if (w.getsampwidth(), w.getnchannels(), w.getframerate()) != (
          2, 1, rate):
        raise errors.DataError(
            f"{where}: expected 16-bit mono {rate} Hz PCM, got "
            f"{8 * w.getsampwidth()}-bit, {w.getnchannels()} channel(s), "
            f"{w.getframerate()} Hz")
      frames = w.readframes(w.getnframes())
      # `wave` returns what is there: a cut data chunk reads short.
      if len(frames) != 2 * w.getnframes():
        raise errors.DataError(
            f"{where} is truncated: its data chunk holds {len(frames)} "
            f"bytes, its header says {w.getnframes()} samples "
            f"({2 * w.getnframes()} bytes); {remedy}")
      return np.frombuffer(frames, "<i2").copy()
  except (wave.Error, EOFError) as e:
    raise errors.DataError(f"{where} is not a readable WAV file ({e}); "
                           f"{remedy}") from None


class SpeechCommandsKs(_Clips):
  """Speech Commands v0.01 in SUPERB's keyword spotting task."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = _SPEECH_INSTRUCTIONS
  ARCHIVES = {"train": "speech_commands_v0.01.tar.gz",
              "test": "speech_commands_test_set_v0.01.tar.gz"}
  INPUT = "audio"
  LABELS = SUPERB_KEYWORDS

  @classmethod
  def required_files(cls, manual_dir: str) -> list[str]:
    return [os.path.join(manual_dir, f) for f in cls.ARCHIVES.values()]

  def _input_feature(self):
    return tfds.features.Tensor(shape=(None,), dtype=np.int16)

  def _split_generators(self, dl_manager):
    manual_dir = os.fspath(dl_manager.manual_dir)
    manual_tfds.check_manual_files(type(self), manual_dir)
    return {s: self._generate_examples(s, self._rows(
        os.path.join(manual_dir, f), s))
            for s, f in self.ARCHIVES.items()}

  def _rows(self, path: str, split: str):
    with unimodal_real_tfds.open_tar(path, _SPEECH_INSTRUCTIONS) as tar:
      members = {m.name.removeprefix("./"): m for m in tar if m.isfile()}
      held_out = set()
      if split == "train":
        for name in ("validation_list.txt", "testing_list.txt"):
          if name not in members:
            raise errors.DataError(f"{path} lacks {name}; is it "
                                   "speech_commands_v0.01.tar.gz?")
          held_out.update(tar.extractfile(members[name]).read().decode(
              "utf-8").split())
      clips, noise = [], []
      for name in sorted(members):
        parts = name.split("/")
        if len(parts) != 2 or not name.endswith(".wav"):
          continue
        if parts[0] == "_background_noise_":
          noise.append(name)
        elif name not in held_out:
          clips.append(name)
      for name in clips:
        word = name.split("/")[0]
        label = word if word in SUPERB_KEYWORDS else "_unknown_"
        yield (read_wav(tar.extractfile(members[name]).read(),
                        f"{path}: {name}"), label, {"path": name})
      if split == "train":  # silence: 1 s slices of the background noise
        for name in noise:
          samples = read_wav(tar.extractfile(members[name]).read(),
                             f"{path}: {name}")
          for k in range(len(samples) // SPEECH_RATE):
            yield (samples[k * SPEECH_RATE:(k + 1) * SPEECH_RATE],
                   "_silence_", {"path": f"{name}#{k}"})


def read_ucf_classes(path: str) -> tuple[str, ...]:
  """classInd.txt ("1 ApplyEyeMakeup" per line) -> class names in label
  order."""
  if not os.path.exists(path):
    raise errors.DataError(f"{path} is missing.\n{_UCF_INSTRUCTIONS}")
  names = {}
  for n, line in manual_tfds.text_lines(path):
    if line.strip():
      index, name = line.split()
      names[int(index) - 1] = name
  if sorted(names) != list(range(len(names))):
    raise errors.DataError(f"{path}: class indices are not 1..{len(names)}")
  return tuple(names[i] for i in range(len(names)))


def decode_clip(path, *, num_frames: int, frame_size: int,
                where: str = "",
                remedy: str = "extract it from UCF101.rar again"
                ) -> list[bytes]:
  """`num_frames` frames evenly spaced over the clip at `path` (a file
  name or a file object; `where` names it in messages), the shorter side
  resized to `frame_size`, as JPEG bytes (PyAV decodes)."""
  av = errors.require("av", extra="video", needed_for="decoding video "
                      "clips")
  where = where or path
  try:
    with av.open(path) as container:
      frames = [f.to_ndarray(format="rgb24")
                for f in container.decode(video=0)]
  except (av.error.FFmpegError, OSError, ValueError) as e:
    raise errors.DataError(f"cannot decode {where} ({e}); {remedy}"
                           ) from None
  if not frames:
    raise errors.DataError(f"{where} has no video frames")
  out = []
  for i in np.linspace(0, len(frames) - 1, num_frames).round().astype(int):
    img = PIL.Image.fromarray(frames[i])
    scale = frame_size / min(img.size)
    img = img.resize((max(frame_size, round(img.size[0] * scale)),
                      max(frame_size, round(img.size[1] * scale))),
                     PIL.Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    out.append(buf.getvalue())
  return out


class Ucf101(_Clips):
  """UCF101 split 1, each clip as `NUM_FRAMES` JPEG frames."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = _UCF_INSTRUCTIONS
  INPUT = "video"
  LABELS = UCF101_LABELS
  NUM_FRAMES = 16
  FRAME_SIZE = 128
  LISTS = {"train": "trainlist01.txt", "test": "testlist01.txt"}

  @classmethod
  def required_files(cls, manual_dir: str) -> list[str]:
    lists = os.path.join(manual_dir, "ucfTrainTestlist")
    return [os.path.join(manual_dir, "UCF-101"),
            os.path.join(lists, "classInd.txt"),
            *(os.path.join(lists, f) for f in cls.LISTS.values())]

  def _input_feature(self):
    return tfds.features.Sequence(tfds.features.Image(
        shape=(None, None, 3), encoding_format="jpeg"))

  def _split_generators(self, dl_manager):
    manual_dir = os.fspath(dl_manager.manual_dir)
    manual_tfds.check_manual_files(type(self), manual_dir)
    classes = read_ucf_classes(os.path.join(manual_dir, "ucfTrainTestlist",
                                            "classInd.txt"))
    if classes != self.LABELS:
      raise errors.DataError(
          f"classInd.txt lists {len(classes)} classes that are not UCF101's "
          f"{len(self.LABELS)}; download the official split lists again")
    return {s: self._generate_examples(s, self._rows(manual_dir, f))
            for s, f in self.LISTS.items()}

  def _rows(self, manual_dir: str, file: str):
    listing = os.path.join(manual_dir, "ucfTrainTestlist", file)
    for n, line in manual_tfds.text_lines(listing):
      if not line.strip():
        continue
      name = line.split()[0]  # "Class/v_Class_g01_c01.avi [label]"
      label = name.split("/")[0]
      if label not in self.LABELS:
        raise errors.DataError(f"{listing}, line {n}: unknown class "
                               f"{label!r}")
      path = os.path.join(manual_dir, "UCF-101", name)
      if not os.path.exists(path):
        raise errors.DataError(f"{path} is missing.\n{_UCF_INSTRUCTIONS}")
      frames = decode_clip(path, num_frames=self.NUM_FRAMES,
                           frame_size=self.FRAME_SIZE)
      yield [io.BytesIO(f) for f in frames], label, {"path": name}


def _scratch(**settings):
  """Our budget for a signal dataset on a ViT from scratch
  (`recipes.scratch_signal`: MU-Bench gives none)."""
  overrides = settings.pop("overrides")
  return spec.GridRecipe(recipe="scratch_signal", settings=settings,
                         overrides=overrides)


DATASETS = {
    "speech_commands": spec.DatasetSpec(
        **spec.AUDIO_CLS, **spec.REAL, labels=SUPERB_KEYWORDS,
        sample_rate=SPEECH_RATE, manual=SpeechCommandsKs,
        grid=_scratch(train_rows=51_000, epochs=30, batch_size=64,
                      learning_rate=3e-4, overrides={
                          "data.audio_samples": 16_000,
                          "model.sample_rate": 16_000, "model.num_mels": 64,
                          "model.audio_window": 400, "model.audio_hop": 160})),
    "ucf101": spec.DatasetSpec(
        **spec.VIDEO_CLS, **spec.REAL, labels=UCF101_LABELS, manual=Ucf101,
        grid=_scratch(train_rows=9_537, epochs=30, batch_size=32,
                      learning_rate=3e-4, overrides={
                          "data.num_frames": 16, "data.image_size": 112,
                          "model.image_size": 112})),
}
