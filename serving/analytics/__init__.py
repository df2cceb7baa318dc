"""Complaint analytics: agency replies and reviewers' corrections beside the prediction log, and what they tell.

* ``store``: the ``replies`` and ``corrections`` tables (same metadata and engine as ``routed_tweets``).
* ``queries``: pure query functions over an Engine (volumes, response times, backlog), used by the API
  (``serving/routers/stats.py``, ``replies.py``), the monthly report and ``notebooks/analytics.ipynb``.
* ``schemas``: the pydantic response models; ``clusters``: recurring issues; ``plots``, ``report`` and
  ``templates/``: the self-contained monthly HTML report.
* ``cli_report`` / ``cli_bench``: the ``kemala report monthly`` and ``kemala bench-stats`` commands;
  ``bench``: the one-million-tweet benchmark.
"""
