"""The book's analysis of runs: statistics, reductions, claims, tables, plots, the paper and the ledger."""
