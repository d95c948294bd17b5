"""Emotion model: encoder, head, calibration, engine, training and evaluation."""
