"""What a user runs that is neither a widget, a figure nor the command line itself: the demo
page, the model report and the zoo rebuild (the CLI's ``demo``, ``report`` and ``zoo rebuild``).

Example:
    >>> from arithlens.faces.report import write_report
    >>> write_report(al.load("add3-2L"), "out/report")              # doctest: +SKIP
"""
