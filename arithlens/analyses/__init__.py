"""The analyses that sit beside :mod:`arithlens.patching` and :mod:`arithlens.probes` on the
analyses floor: evaluation (exact match by digit, carry, class and length), attention patterns
and digit alignment, the logit lens, key heads and faithfulness (circuits), precise fine-tuning.

Example:
    >>> import arithlens as al
    >>> al.evaluate is al.analyses.evaluation.evaluate
    True
    >>> al.lens is al.analyses.lens
    True
"""
