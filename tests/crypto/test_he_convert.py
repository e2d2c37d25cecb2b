"""One call from scikit-learn and PyTorch: the encrypted model predicts what the original does."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from torch import nn

from veil.crypto.he import (
    PolynomialActivation,
    encrypted_predict,
    from_sklearn,
    from_torch,
    load_model,
)
from veil.errors import DataError, ParameterError

TOL = 1e-4


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)) * [1, 2, 0.5, 3, 1, 1] + [0, 5, 0, -2, 0, 1]
    y_reg = X @ rng.normal(size=6) + rng.normal(size=300)
    y_cls = (y_reg > np.median(y_reg)).astype(int)
    return X, y_reg, y_cls


def test_sklearn_linear_models_convert(data) -> None:
    X, y_reg, y_cls = data
    for est in (LinearRegression(), Ridge(alpha=2.0)):
        est.fit(X, y_reg)
        model = from_sklearn(est)
        assert model.outputs == ("prediction",)
        got = encrypted_predict(model, X)[:, 0]
        np.testing.assert_allclose(got, est.predict(X), atol=TOL * np.abs(y_reg).max())
    for est in (LogisticRegression(), SGDClassifier(loss="log_loss", random_state=0)):
        est.fit(X, y_cls)
        model = from_sklearn(est)
        assert model.outputs == ("probability",) and model.link == "sigmoid"
        got = encrypted_predict(model, X)[:, 0]
        np.testing.assert_allclose(got, est.predict_proba(X)[:, 1], atol=TOL)


def test_multiclass_logistic_regression_converts_with_its_softmax(data) -> None:
    X, y_reg, _ = data
    y3 = np.digitize(y_reg, np.quantile(y_reg, [1 / 3, 2 / 3]))
    est = LogisticRegression(max_iter=500).fit(X, y3)
    model = from_sklearn(est)
    assert model.link == "softmax"
    assert model.outputs == ("probability_0", "probability_1", "probability_2")
    np.testing.assert_allclose(encrypted_predict(model, X), est.predict_proba(X), atol=TOL)


def test_scaler_pipeline_is_folded_into_the_weights(data) -> None:
    X, _, y_cls = data
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=0.5)).fit(X, y_cls)
    model = from_sklearn(pipe)
    assert len(model.layers) == 1
    np.testing.assert_allclose(model.predict(X)[:, 0], pipe.predict_proba(X)[:, 1], atol=1e-10)
    got = encrypted_predict(model, X)[:, 0]
    np.testing.assert_allclose(got, pipe.predict_proba(X)[:, 1], atol=TOL)


def test_unconvertible_sklearn_models_are_refused(data) -> None:
    X, _, y_cls = data
    with pytest.raises(ParameterError, match="not a fitted linear model"):
        from_sklearn(LogisticRegression())
    y3 = np.arange(len(X)) % 3
    with pytest.raises(ParameterError, match="3 classes, scored one-versus-rest"):
        from_sklearn(SGDClassifier(loss="log_loss", random_state=0).fit(X, y3))
    with pytest.raises(ParameterError, match="no probability"):
        from_sklearn(LinearSVC().fit(X, y_cls))


def test_torch_polynomial_network_converts_exactly() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(5, 4),
        PolynomialActivation((0.0, 0.5, 0.25)),
        nn.Dropout(0.1),
        nn.Linear(4, 1),
        nn.Sigmoid(),
    ).eval()
    model = from_torch(net)
    assert model.link == "sigmoid" and model.outputs == ("probability",)
    assert model.approximation_error == 0.0
    X = np.random.default_rng(1).normal(size=(40, 5))
    with torch.no_grad():
        want = net(torch.tensor(X, dtype=torch.float32)).double().numpy()[:, 0]
    np.testing.assert_allclose(model.predict(X)[:, 0], want, atol=1e-5)  # float32 torch
    np.testing.assert_allclose(encrypted_predict(model, X)[:, 0], want, atol=1e-4)


def test_torch_relu_needs_an_explicit_approximation() -> None:
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    with pytest.raises(ParameterError, match=r"ReLU.*not a polynomial"):
        from_torch(net)
    model = from_torch(net, approximate=(2, 4.0))
    assert 0 < model.approximation_error < 0.5
    with pytest.raises(ParameterError, match="does not convert"):
        from_torch(nn.Sequential(nn.Linear(3, 3), nn.Conv1d(1, 1, 1)))


def test_load_model_reads_joblib_and_torch_files(tmp_path, data) -> None:
    X, _, y_cls = data
    est = LogisticRegression().fit(X, y_cls)
    joblib.dump(est, tmp_path / "m.joblib")
    assert load_model(tmp_path / "m.joblib").link == "sigmoid"
    net = nn.Sequential(nn.Linear(6, 2), PolynomialActivation(), nn.Linear(2, 1))
    torch.save(net, tmp_path / "m.pt")
    assert load_model(tmp_path / "m.pt").depth == 4
    torch.save(net.state_dict(), tmp_path / "state.pt")
    with pytest.raises(DataError, match="state_dict"):
        load_model(tmp_path / "state.pt")
    (tmp_path / "bad.joblib").write_text("not a model")
    with pytest.raises(DataError, match="not a joblib"):
        load_model(tmp_path / "bad.joblib")
    with pytest.raises(DataError, match="does not exist"):
        load_model(tmp_path / "missing.joblib")
