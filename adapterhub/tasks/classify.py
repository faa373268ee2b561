"""``classify``: sequence classification with any number of labels (topics, question types, …)."""

from adapterhub.tasks.classification import SequenceClassification

CLASSIFY = SequenceClassification(name="classify", generic=True)
