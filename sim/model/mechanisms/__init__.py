"""One module per mechanism; each reads and writes the model's arrays and agents.

Called in the order of :meth:`sim.model.model.ScamModel.step`: recruitment, production (scam work),
discipline (quotas and punishment), exits (ways out), enforcement (raids), sites (opening, moving,
closing compounds).
"""
