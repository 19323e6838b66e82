"""kerascheck's rules, one module each. `ALL` is the registry's source."""

from rules import kc001_dropout_before_batchnorm

# Marks this package as kerascheck's, not another distribution's `rules`.
KERASCHECK_RULES = True

ALL = (kc001_dropout_before_batchnorm,)
