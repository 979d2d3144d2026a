"""otter-grader test: the bonus conditional models (`gan_keras.grading.check_conditional`).

Otter calls the test case with the student's variables of the same names;
a failing check's AssertionError message is what the student reads.
"""

from otter.test_files import test_case

OK_FORMAT = False

name = "check_conditional"
points = 2


@test_case(hidden=False)
def check_conditional_passes_its_check(
    conditional_generator, conditional_discriminator, NUM_CLASSES, LATENT_DIM, IMAGE_SHAPE
):
    from gan_keras.grading import check_conditional

    check_conditional(conditional_generator, conditional_discriminator, NUM_CLASSES, LATENT_DIM, IMAGE_SHAPE)
