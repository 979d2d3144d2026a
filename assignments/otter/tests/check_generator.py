"""otter-grader test: the generator (`gan_keras.grading.check_generator`).

Otter calls the test case with the student's variables of the same names;
a failing check's AssertionError message is what the student reads.
"""

from otter.test_files import test_case

OK_FORMAT = False

name = "check_generator"
points = 3


@test_case(hidden=False)
def check_generator_passes_its_check(generator, LATENT_DIM, IMAGE_SHAPE):
    from gan_keras.grading import check_generator

    check_generator(generator, LATENT_DIM, IMAGE_SHAPE)
