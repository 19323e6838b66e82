"""Confirm-mode recipes, one module per rule (`kcNNN.py`); only the confirm child and the job builder import them."""
