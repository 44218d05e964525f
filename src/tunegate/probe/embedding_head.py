"""The cheapest test of whether learning from the labels closes the gap: embeddings + a linear classifier.

A regularized logistic regression on sentence embeddings (``local:minilm`` by default) trains in seconds on a CPU.
If even this probe beats the best prompt, a real fine-tune very likely will; if it does not, that is evidence
(not proof) that the labels alone do not carry what the task needs. The regularization strength is chosen on the
dev split (or by cross-validation on train when there is no dev split), never on test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunegate.errors import TunegateError

C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass
class HeadFit:
    classes: list[str]
    C: float
    model: object  # sklearn LogisticRegression

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities over ``classes`` (columns for labels absent from the training subset are 0)."""
        p = self.model.predict_proba(X)
        out = np.zeros((X.shape[0], len(self.classes)))
        index = {c: i for i, c in enumerate(self.classes)}
        for j, c in enumerate(self.model.classes_):
            out[:, index[c]] = p[:, j]
        return out

    def predict(self, X: np.ndarray) -> list[str]:
        return [self.classes[i] for i in self.predict_proba(X).argmax(axis=1)]


def fit_head(
    X_train: np.ndarray, y_train: list[str], *, classes: list[str], X_dev: np.ndarray | None = None,
    y_dev: list[str] | None = None, Cs: tuple[float, ...] = C_GRID, seed: int = 0,
) -> HeadFit:
    """Fit the head; choose C by dev accuracy (ties to the stronger regularization), or by 3-fold CV on train."""
    from sklearn.linear_model import LogisticRegression

    present = sorted(set(y_train))
    if len(present) < 2:
        raise TunegateError(f"the embedding head needs at least two labels in the training data (found: "
                            f"{', '.join(present) or 'none'})")
    y = np.asarray(y_train)
    best_C, best_score = Cs[0], -1.0
    if X_dev is not None and y_dev:
        for C in Cs:
            clf = LogisticRegression(C=C, max_iter=3000).fit(X_train, y)
            score = float((clf.predict(X_dev) == np.asarray(y_dev)).mean())
            if score > best_score + 1e-12:
                best_C, best_score = C, score
    else:
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        counts = np.unique(y, return_counts=True)[1]
        k = int(min(3, counts.min()))
        if k >= 2:
            cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
            for C in Cs:
                score = float(cross_val_score(LogisticRegression(C=C, max_iter=3000), X_train, y, cv=cv).mean())
                if score > best_score + 1e-12:
                    best_C, best_score = C, score
        else:
            best_C = 1.0
    model = LogisticRegression(C=best_C, max_iter=3000).fit(X_train, y)
    return HeadFit(classes=list(classes), C=best_C, model=model)


def stratified_subset(labels: list[str], n: int, *, seed: int) -> np.ndarray:
    """Indices of a seeded, label-stratified subset of size n (every label kept while n allows)."""
    rng = np.random.default_rng(seed)
    y = np.asarray(labels)
    if n >= len(y):
        return np.arange(len(y))
    classes = sorted(set(labels))
    by = {c: rng.permutation(np.flatnonzero(y == c)) for c in classes}
    # one per class first, then uniformly from the rest (label proportions kept in expectation)
    chosen = [by[c][0] for c in classes][:n]
    rest = n - len(chosen)
    if rest > 0:
        pool = np.concatenate([by[c][1:] for c in classes])
        take = rng.choice(len(pool), size=rest, replace=False)
        chosen += pool[take].tolist()
    return np.sort(np.asarray(chosen, dtype=int))
