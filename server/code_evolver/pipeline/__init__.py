"""The pipeline: prompts, code extraction, stub finding, running code, generate and fix."""
