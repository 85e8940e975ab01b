"""The trainer's side (TensorFlow and Keras): the models, the training loop and its engine, the factor methods
and the run-folder writer. The web server never imports this package."""
