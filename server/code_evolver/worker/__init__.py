"""Jobs the language server hands to its worker process, and the two ends of that pipe."""
