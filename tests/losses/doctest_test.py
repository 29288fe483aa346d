"""The runnable examples in the docstrings of the public losses, loss-term
combinators and gradient transforms."""

import doctest

import pytest

from mmul_jax import gradient_transforms
from mmul_jax.losses import _contrastive
from mmul_jax.losses import _curriculum
from mmul_jax.losses import _distill
from mmul_jax.losses import _mmul
from mmul_jax.losses import _preference
from mmul_jax.losses import _terms


@pytest.mark.parametrize("module", [_terms, _mmul, _distill, _contrastive,
                                    _curriculum, _preference,
                                    gradient_transforms],
                         ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_docstring_examples_run(module):
  result = doctest.testmod(module, optionflags=doctest.ELLIPSIS
                           | doctest.NORMALIZE_WHITESPACE)
  assert result.failed == 0
  assert result.attempted > 0  # the module has examples
