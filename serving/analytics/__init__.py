"""Complaint analytics: agency replies and reviewers' corrections beside the prediction log, and what they tell.

* ``tables``: the ``replies``, ``corrections`` and ``tweet_facts`` tables and their indexes (same metadata and
  engine as ``routed_tweets``); ``facts``: the per-tweet projection every stats query reads, refreshed by
  every write; ``store``: the writes (replies, corrections) and the schema upkeep.
* ``queries``: pure query functions over an Engine (volumes, response times, backlog), used by the API
  (``serving/routers/stats.py``, ``replies.py``), the monthly report and ``notebooks/analytics.ipynb``.
* ``schemas``: the pydantic response models; ``clusters``: recurring issues; ``plots``, ``report`` and
  ``templates/``: the self-contained monthly HTML report.
* ``cli_report`` / ``cli_bench``: the ``kemala report monthly|rebuild-facts`` and ``kemala bench-stats`` commands;
  ``bench``: the one-million-tweet benchmark.
"""
