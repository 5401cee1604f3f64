"""The cleanlab-style label-error reference for `bench/labelErrors.bench.ts` (Debian python3-sklearn).

Confident learning as cleanlab does it by default: out-of-fold probabilities from 5-fold
cross-validated logistic regression (scikit-learn's defaults, on standardized features), images
ranked by self-confidence (the probability of their given label, lowest first), and the issues
counted from the confident joint (per-class thresholds = the mean self-confidence of each class).

Usage: cleanlab_reference.py FEATURES.f32 LABELS.json   (features: float32 rows, row-major)
Prints one JSON line: {"order": [row indices, most suspect first], "flagged": count}.
"""
import json
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main(features_file: str, labels_file: str) -> None:
    labels = np.array(json.load(open(labels_file)), dtype=np.int64)
    features = np.fromfile(features_file, dtype=np.float32).reshape(len(labels), -1)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    probabilities = cross_val_predict(model, features, labels, cv=folds, method="predict_proba")
    self_confidence = probabilities[np.arange(len(labels)), labels]
    order = np.argsort(self_confidence, kind="stable")
    classes = probabilities.shape[1]
    thresholds = np.array([probabilities[labels == c, c].mean() for c in range(classes)])
    above = probabilities >= thresholds[None, :]
    # Each image counts once, under the most probable class that clears its own threshold.
    masked = np.where(above, probabilities, -1.0)
    confident = masked.argmax(axis=1)
    counted = above.any(axis=1)
    flagged = int(np.sum(counted & (confident != labels)))
    print(json.dumps({"order": order.tolist(), "flagged": flagged}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
