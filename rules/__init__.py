"""kerascheck's rules, one module each. `ALL` is the registry's source."""

from rules import kc001_dropout_before_batchnorm
from rules import kc002_dropout_ignores_training
from rules import kc003_constraint_init_mismatch

# Marks this package as kerascheck's, not another distribution's `rules`.
KERASCHECK_RULES = True

ALL = (kc001_dropout_before_batchnorm, kc002_dropout_ignores_training, kc003_constraint_init_mismatch,)
