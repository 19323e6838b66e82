"""kerascheck's rules, one module each. `ALL` is the registry's source."""

from rules import kc001_dropout_before_batchnorm
from rules import kc002_dropout_ignores_training
from rules import kc005_dropout_rate_reads_as_keep_prob
from rules import kc003_constraint_init_mismatch
from rules import kc004_tensor_outside_graph

# Marks this package as kerascheck's, not another distribution's `rules`.
KERASCHECK_RULES = True

ALL = (kc001_dropout_before_batchnorm, kc002_dropout_ignores_training, kc005_dropout_rate_reads_as_keep_prob, kc003_constraint_init_mismatch, kc004_tensor_outside_graph,)
