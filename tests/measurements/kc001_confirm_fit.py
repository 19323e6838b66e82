"""Does KC001's confirm recipe need its 16 fit() steps before the 500 training-mode passes?

Measured for rules/confirm/kc001.py (TF 2.21 / keras 3.15.1, CPU, seed 0): the recipe's chain,
Dense(32, relu) -> [Dropout(r) -> BN] on N(0, 1) input (32,), 256 samples in batches of 32; the
ratio BN moving variance / variance of BN's input at inference, and the wall time of the loop (one
tf.function), with and without 16 Adam(1e-3) steps first. Clean look-alike: BN -> Dropout(0.5).
Output beside this file (.out).
"""
import time

import numpy as np
import tensorflow as tf

import keras


def ratio(rate, fit_steps):
    keras.utils.set_random_seed(0)
    inp = keras.Input((32,))
    h = keras.layers.Dense(32, activation="relu")(inp)
    if rate is None:  # BN before the dropout
        norm = keras.layers.BatchNormalization()
        before, h = h, keras.layers.Dropout(0.5)(norm(h))
    else:
        h = keras.layers.Dropout(rate)(h)
        norm = keras.layers.BatchNormalization()
        before, h = h, norm(h)
    model = keras.Model(inp, keras.layers.Dense(1)(h))
    rng = np.random.RandomState(0)
    x = rng.normal(size=(256, 32)).astype("float32")
    y = x[:, :4].sum(axis=1, keepdims=True)
    xs, ys = tf.constant(x.reshape(8, 32, 32)), tf.constant(y.reshape(8, 32, 1))
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)

    @tf.function
    def run(fit, passes):
        for i in tf.range(fit):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(xs[i % 8], training=True) - ys[i % 8]))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        for i in tf.range(passes):
            model(xs[i % 8], training=True)

    @tf.function
    def settle(passes):
        for i in tf.range(passes):
            model(xs[i % 8], training=True)

    started = time.perf_counter()
    if fit_steps:
        run(tf.constant(fit_steps), tf.constant(500))
    else:
        settle(tf.constant(500))
    seconds = time.perf_counter() - started
    inference = np.asarray(keras.Model(inp, before)(x, training=False)).var(axis=0)
    keep = inference > 1e-6
    return float(np.mean(np.asarray(norm.moving_variance)[keep] / inference[keep])), seconds


for rate in (0.5, 0.2, 0.1, None):
    label = f"Dropout({rate}) -> BN" if rate is not None else "BN -> Dropout(0.5) (clean)"
    with_fit, t_fit = ratio(rate, 16)
    without, t_no = ratio(rate, 0)
    print(f"{label}: ratio with 16 fit steps {with_fit:.3f} ({t_fit:.2f} s), without {without:.3f} ({t_no:.2f} s)")
