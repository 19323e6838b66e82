"""What a softmax output trained with a regression loss does (KC020 softmax-with-regression-loss).

TF 2.21 / keras 3.15 / tf_keras 2.21, TensorFlow backend. Input(8) -> Dense(32, relu) -> Dense(5, <last>),
20 epochs of Adam(1e-3), batch 32, fixed seed, 1,500 points (1,000 train, 500 held out).

M  Multi-label: 5 labels, label j is on when x @ w_j > -0.15 (the labels per row and the share of rows
   with two or more are printed first). Scored on the held-out rows at threshold 0.5: per-label accuracy, micro F1, the
   share of rows whose label set is exactly right, and the mean per-label ROC AUC (ranking, free of any
   threshold: does the model separate positives from negatives at all?).
   M1 sigmoid + binary CE (the right set-up), M2 softmax + mse, M3 softmax + mae, M4 softmax + huber,
   M5 softmax + log_cosh, M6 softmax + msle, M7 sigmoid + mse (silent: a legitimate choice).
C  Single-label, 5 one-hot classes (Gaussian blobs): argmax accuracy on the held-out rows and the
   log-loss of the predictions, C1 softmax + categorical CE, C2 softmax + mse, C3 softmax + mae.

Run: python tests/measurements/kc020_softmax_regression.py   (~2-3 min). Output beside this file (.out).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
import tf_keras  # noqa: E402

print(f"versions: tensorflow {tf.__version__}, keras {keras.__version__}, tf_keras {tf_keras.__version__}")
rng = np.random.RandomState(0)
x = rng.normal(size=(1500, 8)).astype("float32")
w = rng.normal(size=(8, 5)) / np.sqrt(8)
multi = (x @ w > -0.15).astype("float32")
print(f"multi-label targets: {multi.sum(1).mean():.2f} labels per row, {np.mean(multi.sum(1) >= 2):.0%} of rows "
      f"with two or more, label frequency {np.round(multi.mean(0), 2).tolist()}")
centers = rng.normal(0, 1.0, size=(5, 8))
cls = rng.randint(0, 5, size=1500)
xc = (centers[cls] + rng.normal(size=(1500, 8))).astype("float32")
onehot = np.eye(5, dtype="float32")[cls]
TR, TE = slice(0, 1000), slice(1000, None)


def auc(scores, truth):
    """Mean over labels of the probability that a positive outranks a negative."""
    out = []
    for j in range(truth.shape[1]):
        pos, neg = scores[truth[:, j] == 1, j], scores[truth[:, j] == 0, j]
        if len(pos) and len(neg):
            out.append(((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()))
    return float(np.mean(out))


def fit(K, act, loss, xs, ys):
    K.utils.set_random_seed(0)
    L = K.layers
    model = K.Sequential([K.Input((8,)), L.Dense(32, activation="relu"), L.Dense(5, activation=act)])
    model.compile(K.optimizers.Adam(1e-3), loss)
    start = model.evaluate(xs[TR], ys[TR], verbose=0)
    end = model.fit(xs[TR], ys[TR], epochs=20, batch_size=32, verbose=0).history["loss"][-1]
    return model.predict(xs[TE], verbose=0), f"loss {start:.3f} -> {end:.3f}"


def multilabel(K, act, loss):
    pred, trained = fit(K, act, loss, x, multi)
    truth = multi[TE]
    hard = (pred > 0.5).astype("float32")
    tp, fp, fn = (hard * truth).sum(), (hard * (1 - truth)).sum(), ((1 - hard) * truth).sum()
    f1 = 2 * tp / (2 * tp + fp + fn)
    return (f"{trained}; label accuracy {(hard == truth).mean():.3f}, micro F1 {f1:.3f}, exact sets "
            f"{(hard == truth).all(1).mean():.3f}, labels predicted per row {hard.sum(1).mean():.2f}, AUC {auc(pred, truth):.3f}")


def single(K, loss):
    pred, trained = fit(K, "softmax", loss, xc, onehot)
    p = np.clip(pred[np.arange(len(pred)), cls[TE]], 1e-7, 1)
    return f"{trained}; accuracy {(pred.argmax(1) == cls[TE]).mean():.3f}, log-loss {-np.log(p).mean():.3f}, " \
           f"top score {pred.max(1).mean():.2f}"


for K in (keras, tf_keras):
    print(f"== {K.__name__} {K.__version__}")
    for tag, act, loss in (("M1", "sigmoid", "binary_crossentropy"), ("M2", "softmax", "mse"),
                           ("M3", "softmax", "mae"), ("M4", "softmax", K.losses.Huber()),
                           ("M5", "softmax", "log_cosh" if K is keras else "logcosh"), ("M6", "softmax", "msle"),
                           ("M7", "sigmoid", "mse")):
        name = loss if isinstance(loss, str) else type(loss).__name__
        print(f"{tag} {act} + {name:20s}: {multilabel(K, act, loss)}")
    for tag, loss in (("C1", "categorical_crossentropy"), ("C2", "mse"), ("C3", "mae")):
        print(f"{tag} softmax + {loss:24s} (one-hot): {single(K, loss)}")
