"""Trainings outside the web server: the job manager (:mod:`.jobs`), the plain-data messages (:mod:`.spec`),
the local process backend (:mod:`.local`) and the trainer's own side (:mod:`.worker`).

Importing this package imports no TensorFlow; only :mod:`.worker` does, in the trainer process.
"""

