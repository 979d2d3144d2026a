"""otter-grader test: the discriminator's loss (`gan_keras.grading.check_discriminator_loss`).

Otter calls the test case with the student's variables of the same names;
a failing check's AssertionError message is what the student reads.
"""

from otter.test_files import test_case

OK_FORMAT = False

name = "check_discriminator_loss"
points = 3


@test_case(hidden=False)
def check_discriminator_loss_passes_its_check(discriminator_loss):
    from gan_keras.grading import check_discriminator_loss

    check_discriminator_loss(discriminator_loss)
