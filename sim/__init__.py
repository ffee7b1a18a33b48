"""scamsim: an agent-based model of the scam-compound economy."""
