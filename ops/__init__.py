"""Model lifecycle commands after export and publish: shadow report, canary, promote, rollback."""
