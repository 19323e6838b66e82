"""kerascheck's rules, one module each (`kcNNN_<name>.py`), found by discovery.

Installed as `kerascheck.rules`. Adding a rule is adding a module here (and its fixtures):
the registry imports every `kcNNN_*` module of this package; nothing lists them by hand.
"""
