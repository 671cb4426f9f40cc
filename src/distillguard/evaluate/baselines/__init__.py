"""Baselines users have today, scored beside distillguard: rate limits, Isolation Forest, MMD.

Each baseline module turns the exchange log into a :class:`~..detector.DetectorOutput`.
The MMD window test needs the optional ``baselines`` extra (CPU torch + offline MiniLM).
"""
