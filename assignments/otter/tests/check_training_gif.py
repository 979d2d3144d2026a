"""otter-grader test: the training GIF (`gan_keras.grading.check_training_gif`).

Otter calls the test case with the student's variables of the same names;
a failing check's AssertionError message is what the student reads.
"""

from otter.test_files import test_case

OK_FORMAT = False

name = "check_training_gif"
points = 3


@test_case(hidden=False)
def check_training_gif_passes_its_check(GIF_PATH, EPOCHS):
    from gan_keras.grading import check_training_gif

    check_training_gif(GIF_PATH, min_frames=EPOCHS)
