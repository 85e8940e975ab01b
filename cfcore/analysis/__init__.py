"""Looking inside a trained run, in NumPy alone (no TensorFlow): PCA, neighbours, predictions, fold-in,
explanations, maps, similarity between runs, baselines and the one-hot measurement."""
