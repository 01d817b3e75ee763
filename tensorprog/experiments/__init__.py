"""Experiments of TP4 §9 (Yang & Hu, "Tensor Programs IV", arXiv:2011.14522) at small scale:
the μP limit of 1-hidden-layer linear networks, Word2Vec and few-shot MAML.

Needs the ``experiments`` extra (``pip install -e ".[experiments]"``).
"""
