"""Is `Dropout(r)(x, training=True)` Monte-Carlo dropout in a functional model?

Measured for KC001 (TF 2.21 / keras 3.15.1 / tf_keras 2.21): the share of zeros
that `predict()` and `model(x)` produce. Output beside this file (.out).
"""
import numpy as np

import keras
import tf_keras

x = np.ones((8, 64), "float32")

inp = keras.Input((64,))
model = keras.Model(inp, keras.layers.Dropout(0.5)(inp, training=True))
print("keras 3 functional, training=True: predict zeros", float((model.predict(x, verbose=0) == 0).mean()),
      "| model(x) zeros", float((np.asarray(model(x)) == 0).mean()))

inp = tf_keras.Input((64,))
model = tf_keras.Model(inp, tf_keras.layers.Dropout(0.5)(inp, training=True))
print("tf_keras functional, training=True: predict zeros", float((model.predict(x, verbose=0) == 0).mean()))
