"""Checks that grade a student's GAN: generator, discriminator, losses and training step.

One module per thing checked: `models` (G, D, their conditional forms), `losses`,
`step` (one training step, a short run) and `artifacts` (the training GIF);
`common` holds their seed and shared helpers.

Used by the assignment kit in `assignments/`: `gan_assignment_student.ipynb`
has a TODO cell for each task (build G, build D, write the two losses, train,
make the GIF) followed by a check cell that calls one function from here, and
`gan_assignment_teacher.ipynb` holds the reference solutions.

Every check is a plain function. It raises an `AssertionError` whose message
tells the student in one or two sentences what is wrong and how to fix it, and
returns a small report (a dict) when all is well. So a check is, unchanged:

- an nbgrader autograder test cell: the cell passes when it raises nothing,
  and its points are in the cell's ``nbgrader`` metadata (the teacher
  notebook carries that metadata);
- an otter-grader test case: a ``@test_case`` function that calls the check
  (``assignments/otter/tests/`` has one test file per check); otter shows the
  student the message of the `AssertionError`.

Mistakes that are the teacher's (an `image_shape` with a zero, a `latent_dim`
that is not an int, a model argument that is not a `keras.Model`) raise
`TypeError` or `ValueError` naming the argument instead. ``None`` in place of a
student's model or function is unfinished work, and fails its check with an
`AssertionError` like any other student mistake.

The checks are seeded (their inputs come from a fixed NumPy generator), take
seconds on a CPU and put back every weight, batch-norm statistic and
optimizer slot they change, so running one does not alter the training that
follows. `check_learns` is the exception: it trains a GAN of its own, and
seeds Keras globally to do so. Gradients are taken with the package's
backend-neutral helpers (`gan_keras.autodiff`), so the checks run on
TensorFlow, JAX and PyTorch; the test suite runs them on TensorFlow.

Student losses follow the TensorFlow DCGAN tutorial: ``discriminator_loss(
real_logits, fake_logits)`` and ``generator_loss(fake_logits)`` take D's
logits (shape ``[batch, 1]``) and return a scalar, the mean over the batch.
`as_gan_loss` turns such a pair into the `GANLoss` that `GAN.compile` takes.
"""

from gan_keras.grading.artifacts import check_training_gif
from gan_keras.grading.losses import as_gan_loss, check_discriminator_loss, check_generator_loss
from gan_keras.grading.models import check_conditional, check_discriminator, check_generator, ends_in_sigmoid
from gan_keras.grading.step import check_learns, check_train_step

__all__ = [
    "as_gan_loss",
    "check_conditional",
    "check_discriminator",
    "check_discriminator_loss",
    "check_generator",
    "check_generator_loss",
    "check_learns",
    "check_train_step",
    "check_training_gif",
    "ends_in_sigmoid",
]
