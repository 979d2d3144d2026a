"""otter-grader test: the discriminator (`gan_keras.grading.check_discriminator`).

Otter calls the test case with the student's variables of the same names;
a failing check's AssertionError message is what the student reads.
"""

from otter.test_files import test_case

OK_FORMAT = False

name = "check_discriminator"
points = 3


@test_case(hidden=False)
def check_discriminator_passes_its_check(discriminator, IMAGE_SHAPE):
    from gan_keras.grading import check_discriminator

    check_discriminator(discriminator, IMAGE_SHAPE)
