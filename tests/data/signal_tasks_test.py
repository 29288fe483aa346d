"""The embedded keyword spotting and action recognition tasks: pure
examples, atypical labels, and classes the signal actually shows."""

import numpy as np
import pytest

from mmul_jax.data.core import modalities
from mmul_jax.data.generated import signal_tasks
from mmul_jax.data.generated import unimodal_tasks
from mmul_jax.models import audio


def test_audio_examples_are_pure_with_atypical_training_labels():
  a = signal_tasks.audio_example(0, 0, 3)
  np.testing.assert_array_equal(a.input, signal_tasks.audio_example(0, 0,
                                                                     3).input)
  assert a.input.shape == (signal_tasks.CLIP_SAMPLES,)
  assert a.input.dtype == np.int16
  ex = [signal_tasks.audio_example(0, 0, i) for i in range(300)]
  assert {e.typical_label for e in ex} == set(range(12))
  rate = np.mean([e.atypical for e in ex])
  assert rate == pytest.approx(unimodal_tasks.ATYPICAL_FRACTION, abs=0.07)
  assert not any(signal_tasks.audio_example(0, 1, i).atypical
                 for i in range(50))


def test_keywords_sound_their_formants_and_the_code_beeps_last():
  """The word region of silence is quieter than a keyword's; the code's
  beeps sit above every formant."""
  word_end = signal_tasks.CLIP_SAMPLES - (signal_tasks.CODE_BEEPS
                                          * signal_tasks.BEEP_SAMPLES)
  energy = {}
  for i in range(120):
    e = signal_tasks.audio_example(0, 1, i)
    x = e.input.astype(np.float64) / 32768
    energy.setdefault(signal_tasks.KEYWORDS[e.label], []).append(
        np.mean(x[:word_end] ** 2))
  assert max(energy["_silence_"]) < min(energy["yes"] + energy["go"])
  e = signal_tasks.audio_example(0, 1, 0)
  spec = np.asarray(audio.log_mel(e.input[None, word_end:] / 32768.0,
                                  sample_rate=signal_tasks.SAMPLE_RATE,
                                  window=160, hop=160, num_mels=32))[0]
  top = audio.mel_to_hz(np.linspace(audio.hz_to_mel(20.0),
                                    audio.hz_to_mel(4000.0), 34))[1:-1]
  assert top[np.argmax(spec.mean(0))] > 2300  # the beeps' band


def _centre(frame):
  """Centre of the pixels brighter than the noise, below the code band."""
  body = frame[4:].max(-1) > 60
  yy, xx = np.nonzero(body)
  return yy.mean(), xx.mean(), body.sum()


def test_video_classes_are_the_motion():
  for i in range(80):
    e = signal_tasks.video_example(0, 1, i, image_size=32)
    assert e.input.shape == (signal_tasks.NUM_FRAMES, 32, 32, 3)
    motion = signal_tasks.MOTIONS[e.label]
    (y0, x0, n0), (y1, x1, n1) = _centre(e.input[0]), _centre(e.input[-1])
    if motion == "right":
      assert x1 > x0 + 3
    elif motion == "left":
      assert x1 < x0 - 3
    elif motion == "up":
      assert y1 < y0 - 3
    elif motion == "down":
      assert y1 > y0 + 3
    elif motion == "grow":
      assert n1 > n0
    elif motion == "shrink":
      assert n1 < n0
  # The code band is the same in every frame.
  e = signal_tasks.video_example(0, 0, 5, image_size=32)
  np.testing.assert_array_equal(e.input[0, :4], e.input[-1, :4])


def test_clips_and_waveforms_are_fitted_to_the_run_shape():
  clip = np.zeros((5, 20, 24, 3), np.uint8)
  clip[:, 0, 0, 0] = np.arange(5)
  fitted = modalities.fit_clip(clip, 8, 16)
  assert fitted.shape == (8, 16, 16, 3)
  wave = np.arange(10, dtype=np.int16)
  np.testing.assert_array_equal(modalities.fit_audio(wave, 4), wave[:4])
  np.testing.assert_array_equal(modalities.fit_audio(wave, 12)[10:], [0, 0])
