"""MovieLens-format data: reading and validating the files, the indexed dataset, the split, the cache, the download
and where the data comes from."""
