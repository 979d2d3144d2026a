"""otter-grader test: the generator's loss (`gan_keras.grading.check_generator_loss`).

Otter calls the test case with the student's variables of the same names;
a failing check's AssertionError message is what the student reads.
"""

from otter.test_files import test_case

OK_FORMAT = False

name = "check_generator_loss"
points = 3


@test_case(hidden=False)
def check_generator_loss_passes_its_check(generator_loss):
    from gan_keras.grading import check_generator_loss

    check_generator_loss(generator_loss, kind="non_saturating")
