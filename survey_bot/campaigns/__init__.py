"""Campaign rules, pure: attempt outcomes, AAPOR dispositions and response rates, calling windows, durations.

No SQL, no SDK, no web framework: the scheduler (jobs/), the store, the reports and the CLI apply these rules;
tests check them as plain functions on worked examples.
"""
