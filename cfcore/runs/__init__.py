"""A trained run as plain data: its folder's files and their schema, the learned arrays, the run zip a learner
downloads and loads, and the server's cache of loaded runs."""
