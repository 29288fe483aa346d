"""Embedded keyword spotting and action recognition, MU-Bench's speech and
video tasks in miniature: generated, seeded, no download.

As in `unimodal_tasks`, every example is a pure function of
`(seed, split, index)`, its class comes from generalisable structure, a
per-item code carries detail only memorisation can use, and a quarter of
the training examples has an atypical label (`unimodal_tasks._label`):

* **tone_commands** (Speech Commands' stand-in, SUPERB KS's 12 classes):
  0.5 s at 8 kHz. A keyword is two "syllables", each a pair of formant
  tones (F1, F2) with a smooth envelope; per-item pitch, timing, loudness
  and noise vary. `_silence_` is noise alone; `_unknown_` is one of six
  other formant patterns. The last 120 ms hold the code: six 20 ms beeps
  at one of four high frequencies (4,096 codes).
* **moving_shapes** (UCF101's stand-in, 10 motions): 8 frames of a
  coloured shape whose motion is the class (four directions, two
  diagonals, growing, shrinking, orbiting either way), under a colour code
  in the frames' top band, constant over the clip.
"""

from __future__ import annotations

import numpy as np

from mmul_jax.data.generated import shapes
from mmul_jax.data.generated import unimodal_tasks

SAMPLE_RATE = 8000
CLIP_SAMPLES = 4000  # 0.5 s
# SUPERB KS's classes (Speech Commands v0.01's ten keywords, silence,
# other words).
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop",
            "go", "_silence_", "_unknown_")
# (F1, F2) in Hz of each keyword's two syllables.
_FORMANTS = {
    "yes": ((300, 2300), (600, 1800)), "no": ((450, 1100), (350, 800)),
    "up": ((650, 1200), (300, 900)), "down": ((400, 1000), (700, 1300)),
    "left": ((550, 1900), (450, 1500)), "right": ((750, 1300), (350, 2100)),
    "on": ((600, 900), (500, 1500)), "off": ((650, 1000), (400, 2500)),
    "stop": ((350, 1700), (600, 1000)), "go": ((500, 1400), (350, 700)),
}
_OTHER_WORDS = (((300, 1400), (700, 1700)), ((800, 1500), (400, 1200)),
                ((450, 2000), (300, 1000)), ((700, 1100), (650, 2200)),
                ((350, 1200), (550, 2300)), ((600, 1600), (750, 900)))
CODE_FREQS = (2500.0, 2800.0, 3100.0, 3400.0)
CODE_BEEPS = 6
BEEP_SAMPLES = 160  # 20 ms

MOTIONS = ("right", "left", "up", "down", "up_right", "down_left", "grow",
           "shrink", "orbit_cw", "orbit_ccw")
NUM_FRAMES = 8


def _tone(freqs, n: int, rng: np.random.Generator) -> np.ndarray:
  t = np.arange(n) / SAMPLE_RATE
  wave = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) / (k + 1)
             for k, f in enumerate(freqs))
  return wave * np.hanning(n)


def audio_example(seed: int, split_index: int, index: int) -> \
    unimodal_tasks.Example:
  """A 0.5 s int16 waveform `(CLIP_SAMPLES,)`: the keyword's formant
  syllables (or noise, or another word) and the per-item beep code."""
  rng = np.random.default_rng([seed, split_index, index, 104])
  typical = int(rng.integers(len(KEYWORDS)))
  label, atypical = unimodal_tasks._label(rng, typical, len(KEYWORDS),
                                          split_index)
  code = rng.integers(0, len(CODE_FREQS), CODE_BEEPS)
  x = rng.normal(0, rng.uniform(0.01, 0.04), CLIP_SAMPLES)
  word = KEYWORDS[typical]
  if word != "_silence_":
    pattern = (_FORMANTS[word] if word in _FORMANTS else
               _OTHER_WORDS[int(rng.integers(len(_OTHER_WORDS)))])
    pitch = rng.uniform(0.9, 1.1)
    start = int(rng.integers(0, 400))
    loud = rng.uniform(0.3, 0.6)
    for syllable in pattern:
      n = int(rng.integers(1000, 1300))
      x[start:start + n] += loud * _tone([f * pitch for f in syllable], n,
                                         rng)
      start += n + int(rng.integers(0, 200))
  code_start = CLIP_SAMPLES - CODE_BEEPS * BEEP_SAMPLES
  for b, c in enumerate(code):
    s = code_start + b * BEEP_SAMPLES
    x[s:s + BEEP_SAMPLES] += 0.3 * _tone([CODE_FREQS[c]], BEEP_SAMPLES, rng)
  wave = np.clip(x, -1, 1) * 32767
  return unimodal_tasks.Example(wave.astype(np.int16), label, typical,
                                atypical)


def _position(motion: str, t: float, start, speed: float, size: int,
              free: int):
  """Top-left corner and size of the shape at time t in [0, 1]."""
  y0, x0 = start
  d = speed * t
  moves = {"right": (0, d), "left": (0, -d), "up": (-d, 0), "down": (d, 0),
           "up_right": (-d, d), "down_left": (d, -d)}
  if motion in moves:
    dy, dx = moves[motion]
    return y0 + dy, x0 + dx, size
  if motion in ("grow", "shrink"):
    scale = 0.5 + t if motion == "grow" else 1.5 - t
    s = max(3, int(round(size * scale)))
    return y0 + (size - s) / 2, x0 + (size - s) / 2, s
  sign = 1 if motion == "orbit_cw" else -1
  angle = sign * 2 * np.pi * 0.75 * t
  r = free / 4
  return (free / 2 - size / 2 - r * np.cos(angle),
          free / 2 - size / 2 + r * np.sin(angle), size)


def video_example(seed: int, split_index: int, index: int, *,
                  image_size: int) -> unimodal_tasks.Example:
  """`(NUM_FRAMES, S, S, 3)` uint8 frames of one shape in motion."""
  rng = np.random.default_rng([seed, split_index, index, 105])
  typical = int(rng.integers(len(MOTIONS)))
  label, atypical = unimodal_tasks._label(rng, typical, len(MOTIONS),
                                          split_index)
  code = rng.integers(0, len(shapes.CODE_PALETTE), shapes.CODE_BLOCKS)
  s = image_size
  free = s - shapes.BAND
  shape = shapes.SHAPES[int(rng.integers(len(shapes.SHAPES)))]
  colour = np.array(list(shapes.COLOURS.values())[
      int(rng.integers(len(shapes.COLOURS)))])
  size = int(rng.integers(free // 5, free // 3))
  motion = MOTIONS[typical]
  speed = rng.uniform(0.35, 0.5) * free
  margin = speed if motion in ("right", "left", "up", "down", "up_right",
                               "down_left") else 0
  lo, hi = 0, free - size
  start = []
  for axis_sign in _start_direction(motion):
    if axis_sign > 0:  # moves towards larger coordinates
      start.append(rng.uniform(lo, max(lo, hi - margin)))
    elif axis_sign < 0:
      start.append(rng.uniform(min(hi, lo + margin), hi))
    else:
      start.append(rng.uniform(lo, hi))
  background = shapes.coded_background(code, s, rng)
  frames = []
  for f in range(NUM_FRAMES):
    img = background.copy()
    y, x, sz = _position(motion, f / (NUM_FRAMES - 1), start, speed, size,
                         free)
    y = int(np.clip(round(y), 0, free - sz)) + shapes.BAND
    x = int(np.clip(round(x), 0, s - sz))
    yy, xx = np.mgrid[0:sz, 0:sz].astype(np.float32)
    img[y:y + sz, x:x + sz][shapes.shape_mask(shape, sz, yy, xx)] = colour
    frames.append(np.clip(img, 0, 255).astype(np.uint8))
  return unimodal_tasks.Example(np.stack(frames), label, typical, atypical)


def _start_direction(motion: str) -> tuple[int, int]:
  """For each axis (y, x): +1 if the motion goes down / right, -1 if up /
  left, 0 if it stays."""
  return {"right": (0, 1), "left": (0, -1), "up": (-1, 0), "down": (1, 0),
          "up_right": (-1, 1), "down_left": (1, -1)}.get(motion, (0, 0))
