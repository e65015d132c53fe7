"""Measured quality of the assistant: ``assistant eval`` (see ``run.run_evaluation``).

- ``dataset``    the held-out conversations (``tests/eval/heldout.jsonl``), its only reader
- ``metrics``    accuracies, per-label scores, error records and the targets
- ``baseline``   the BM25 keyword search a town web site would offer instead
- ``nlu_split``  Rasa's own NLU test on a seeded 80/20 split of the training data
- ``rendering``  the console table, the Markdown summary and the confusion matrix
- ``run``        the whole measurement, writing ``reports/``

The held-out set is only read for measuring; it never feeds training or tuning.
"""
