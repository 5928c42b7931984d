"""One module per feature: what the lightbulb offers, the job it runs, the edit it returns."""
