"""Number representations (Zhou et al. 2024; Kantamneni & Tegmark 2025; Nikankin et al. 2024):
how a model holds a number, and whether it uses that.

- :mod:`.activations`: one activation per number at its token (single tokens checked).
- :mod:`.spectrum`: Fourier spectra along the number, with a shuffled-order null.
- :mod:`.helix`: helix fits (PCA, regression on B(a), period subsets by held-out R^2), and
  the baselines (circle, polynomial, shuffled helix).
- :mod:`.causal`: patching a fit of the clean number into the corrupted run, beside the full
  activation, PCA, circle, polynomial and shuffled fits; ablating the fitted subspace.
- :mod:`.filter`: Fourier filters of a module's output in the number-token basis.
- :mod:`.neurons`: heuristic neurons (operand / result ranges and residues).

Example:
    >>> import arithlens as al
    >>> model = al.load("add2-gpt2")                                     # doctest: +SKIP
    >>> acts = al.numbers.number_activations(model, "resid_post", 0)     # doctest: +SKIP
    >>> al.numbers.spectrum(acts.values, acts.numbers).top(4)            # doctest: +SKIP
    >>> al.numbers.causal_table(model, layers=[0, 1])                    # doctest: +SKIP
"""

from arithlens.analyses.numbers.activations import (
    NumberActivations,
    number_activations,
    number_token_ids,
    single_token_numbers,
)
from arithlens.analyses.numbers.causal import (
    NumberPairs,
    ablate_subspace,
    causal_table,
    number_pairs,
    patch_fits,
)
from arithlens.analyses.numbers.filter import (
    band_frequencies,
    filter_matrix,
    filter_table,
    fourier_basis,
)
from arithlens.analyses.numbers.helix import PERIODS, HelixFit, fit_basis, fit_helix
from arithlens.analyses.numbers.neurons import NeuronClasses, classify, classify_neurons
from arithlens.analyses.numbers.spectrum import Spectrum, spectrum

__all__ = [
    "PERIODS",
    "HelixFit",
    "NeuronClasses",
    "NumberActivations",
    "NumberPairs",
    "Spectrum",
    "ablate_subspace",
    "band_frequencies",
    "causal_table",
    "classify",
    "classify_neurons",
    "filter_matrix",
    "filter_table",
    "fit_basis",
    "fit_helix",
    "fourier_basis",
    "number_activations",
    "number_pairs",
    "number_token_ids",
    "patch_fits",
    "single_token_numbers",
    "spectrum",
]
