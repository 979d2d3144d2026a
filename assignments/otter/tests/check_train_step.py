"""otter-grader test: one D step changes only D, one G step only G (`gan_keras.grading.check_train_step`).

Otter calls the test case with the student's variables of the same names;
a failing check's AssertionError message is what the student reads.
"""

from otter.test_files import test_case

OK_FORMAT = False

name = "check_train_step"
points = 3


@test_case(hidden=False)
def check_train_step_passes_its_check(gan):
    from gan_keras.grading import check_train_step

    check_train_step(gan)
