"""Trainings outside the web server: a learner's request and the shared training (:mod:`.jobs`), the manager that
runs them (:mod:`.manager`), the per-workspace caps (:mod:`.caps`), the plain-data messages (:mod:`.spec`), the
backends (:mod:`.backend`, :mod:`.local`, :mod:`.ray`) and the trainer's own side (:mod:`.worker`).

Importing this package imports no TensorFlow; only :mod:`.worker` does, in the trainer process.
"""
