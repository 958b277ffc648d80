"""What survey-bot tells its operators: Prometheus metrics (counted where things happen, safe with several
processes) and the ids a log line is about (structured logs). Layer 0: imports nothing of survey-bot's."""
