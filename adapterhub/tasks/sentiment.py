"""``sentiment``: binary sequence classification; works offline on its embedded review data set."""

from pathlib import Path

from adapterhub.tasks.classification import SequenceClassification

EMBEDDED = Path(__file__).resolve().parents[1] / "datasets" / "sentiment_reviews.csv"


def _names(labels: tuple[str, ...]) -> tuple[str, ...]:
    """0/1 (SST-2, MR) read as negative/positive; named labels are kept."""
    return ("negative", "positive") if labels == ("0", "1") else labels


SENTIMENT = SequenceClassification(name="sentiment", default_data=EMBEDDED, rename=_names, binary=True)
