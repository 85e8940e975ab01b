"""Workspaces: what a learner makes (runs, the dataset choice, selections), kept on disk under an unguessable id,
and the store of all of them with its disk budget."""
