"""Scores (clinical-rules §4): one pure module per score, Facts in, a small frozen result out.

Every result keeps the items that scored with the resources behind them (:class:`service.facts.Source`)
and the items that are unknown, so that cards can cite each finding and say what is missing. Unknown
never reads as "absent": it widens a range (Wells min/max) or makes a rule incomplete (PERC).
"""
