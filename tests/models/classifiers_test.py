"""The unimodal classifiers' towers: the log-mel front end against an
independent numpy computation, the ViT over spectrogram grids and tubelets,
and every classifier's outputs."""

import jax
import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax.data import datasets
from mmul_jax.models import audio
from mmul_jax.models import vit
from mmul_jax import tasks


def test_mel_filters_are_triangles_on_the_mel_scale():
  fb = audio.mel_filterbank(16, 256, 8000)
  assert fb.shape == (129, 16)
  freqs = np.linspace(0, 4000, 129)
  edges = audio.mel_to_hz(np.linspace(audio.hz_to_mel(20.0),
                                      audio.hz_to_mel(4000.0), 18))
  for m in range(16):
    lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
    for k, f in enumerate(freqs):
      want = ((f - lo) / (mid - lo) if lo <= f <= mid else
              (hi - f) / (hi - mid) if mid < f <= hi else 0.0)
      assert fb[k, m] == pytest.approx(max(want, 0.0), abs=1e-5)
  np.testing.assert_allclose(audio.hz_to_mel(1000.0), 1000.0, rtol=1e-3)


def test_log_mel_matches_numpy_and_finds_a_tone():
  rate, window, hop = 8000, 200, 80
  t = np.arange(2000) / rate
  wave = np.stack([0.5 * np.sin(2 * np.pi * 1000 * t),
                   np.random.default_rng(0).normal(0, 0.1, 2000)])
  got = np.asarray(audio.log_mel(wave, sample_rate=rate, window=window,
                                 hop=hop, num_mels=24))
  frames = audio.num_frames(2000, window, hop)
  assert got.shape == (2, frames, 24)
  hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(window) / window)
  fb = audio.mel_filterbank(24, window, rate)
  for b in range(2):
    for i in range(frames):
      seg = wave[b, i * hop:i * hop + window] * hann
      power = np.abs(np.fft.rfft(seg)) ** 2
      np.testing.assert_allclose(got[b, i], np.log(power @ fb + 1e-6),
                                 rtol=2e-4, atol=2e-4)
  centres = audio.mel_to_hz(np.linspace(audio.hz_to_mel(20.0),
                                        audio.hz_to_mel(4000.0), 26))[1:-1]
  assert np.argmax(got[0].mean(0)) == np.argmin(np.abs(centres - 1000))
  with pytest.raises(ValueError, match="shorter than"):
    audio.log_mel(wave[:, :100], sample_rate=rate, window=window, hop=hop,
                  num_mels=24)


def test_vit_reads_spectrogram_grids_and_tubelets():
  kw = dict(patch_size=4, width=16, num_layers=1, num_heads=2,
            output_dim=8)
  spec = vit.VisionTransformer((12, 8), **kw)
  x = np.zeros((2, 12, 8, 1), np.float32)
  params = jax.eval_shape(lambda: spec.init(jax.random.key(0), x,
                                            train=False))
  _, tokens = jax.eval_shape(lambda p: spec.apply(p, x, train=False), params)
  assert tokens.shape == (2, 1 + 3 * 2, 16)
  clip = vit.VisionTransformer(8, num_frames=4, tubelet_size=2, **kw)
  x = np.zeros((2, 4, 8, 8, 3), np.float32)
  params = jax.eval_shape(lambda: clip.init(jax.random.key(0), x,
                                            train=False))
  assert params["params"]["conv1"]["kernel"].shape == (2, 4, 4, 3, 16)
  _, tokens = jax.eval_shape(lambda p: clip.apply(p, x, train=False), params)
  assert tokens.shape == (2, 1 + 2 * 2 * 2, 16)
  with pytest.raises(ValueError, match="expects 4x8x8 inputs"):
    jax.eval_shape(lambda p: clip.apply(
        p, np.zeros((2, 6, 8, 8, 3), np.float32), train=False), params)


# The image and text classifiers: tests/methods/unimodal_test.py.
@pytest.mark.parametrize("dataset", ["tone_commands", "moving_shapes"])
def test_audio_and_video_classifiers_give_logits_and_features(dataset):
  config = config_schema.default_config()
  spec = datasets.DATASETS[dataset]
  task = tasks.for_dataset(spec)
  model = task.build_model(config.model)
  params = task.init_params(model, config, 0)
  x = np.repeat(spec.input_type.example_input(config.model, config.data),
                3, 0)
  out = jax.jit(lambda p, x: model.apply(p, x, method=model.classify))(
      params, x)
  assert out["class_logits"].shape == (3, spec.num_classes)
  assert out["features"].shape == (3, config.model.embed_dim)
  assert set(params["params"]) <= {"img", "txt", "cls_head"}
