"""The default account model shipped with distillguard (``default.json``) and how it was made.

``default.json`` is written by ``distillguard train``; its ``manifest`` records the
training scenarios and seeds, parameters and the exact command (see docs/detection.md).
"""
