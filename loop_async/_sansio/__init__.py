"""Pure decisions, no I/O: retry policy, Loop's error shapes, the one uncertain-outcome rule, bounded JSON."""
