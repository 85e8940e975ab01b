"""The command line: ``python -m cfcore <command>`` (:mod:`cfcore.cli.main`)."""
