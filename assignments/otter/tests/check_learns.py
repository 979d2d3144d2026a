"""otter-grader test: the two losses train a GAN on the ring of Gaussians (`gan_keras.grading.check_learns`).

Otter calls the test case with the student's variables of the same names;
a failing check's AssertionError message is what the student reads.
"""

from otter.test_files import test_case

OK_FORMAT = False

name = "check_learns"
points = 2


@test_case(hidden=False)
def check_learns_passes_its_check(discriminator_loss, generator_loss):
    from gan_keras.grading import check_learns

    check_learns(discriminator_loss, generator_loss, min_modes=4)
