"""Which Keras a confirm child runs, and what only Keras 2 has (for kerascheck/confirm/target.py).

Measured with TF 2.21 / keras 3.15.1 / tf_keras 2.21, each case in a fresh process:
- `tf.keras` under TF_USE_LEGACY_KERAS=1 and =0 (the child pins it either way);
- the public names of standalone `keras.backend` in Keras 3 (everything else that Keras 2 code
  calls through it, `clip`, `abs`, `dropout`, ..., raises AttributeError);
- `self.add_weight("name", shape)`: Keras 2 takes the name by position, Keras 3 raises.
Output beside this file (.out).
"""
import subprocess
import sys

CASES = {
    "tf.keras, TF_USE_LEGACY_KERAS=1": ("1", "import tensorflow as tf; print(tf.keras.__name__)"),
    "tf.keras, TF_USE_LEGACY_KERAS=0": ("0", "import tensorflow as tf; print(tf.keras.__name__)"),
    "keras 3 `keras.backend` public names": (
        "0", "import keras; print(sorted(n for n in dir(keras.backend) if not n.startswith('_')))"),
    "keras 3 has keras.backend.clip": ("0", "import keras; print(hasattr(keras.backend, 'clip'))"),
    "tf.keras (Keras 3) has backend.clip": ("0", "import tensorflow as tf; print(hasattr(tf.keras.backend, 'clip'))"),
    "tf_keras has backend.clip": ("0", "import tf_keras; print(hasattr(tf_keras.backend, 'clip'))"),
    "keras 3: add_weight('w', (4,))": (
        "0", "import keras\nclass L(keras.layers.Layer):\n  def build(self, s): self.w = self.add_weight('w', (4,))\n"
             "try:\n  L().build((2, 4)); print('ok')\nexcept Exception as e: print(type(e).__name__, str(e)[:90])"),
    "tf_keras: add_weight('w', (4,))": (
        "1", "import tf_keras as keras\nclass L(keras.layers.Layer):\n  def build(self, s): self.w = self.add_weight('w', (4,))\n"
             "l = L(); l.build((2, 4)); print('ok', l.w.name, tuple(l.w.shape))"),
}

for label, (legacy, code) in CASES.items():
    env = {"TF_USE_LEGACY_KERAS": legacy, "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.strip()
    print(f"{label}: {out}")
